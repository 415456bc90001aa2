#!/usr/bin/env python3
"""Mirror the Dockerfile's runtime stage without a container engine.

  image.py facts [--json]                read the Dockerfile and .dockerignore, check them, print
                                         the image's facts (shell assignments, or JSON)
  image.py assemble ROOTFS BINARY        lay the image out in ROOTFS: what the base image provides
                                         that the binary uses, then the runtime stage's COPY steps
                                         (BINARY stands in for the build stage's artefact)
  image.py exec ROOTFS [-e K=V]... [-- ARG...]
                                         start the image's ENTRYPOINT + CMD (or ARGs) in ROOTFS as
                                         a container runtime would: chroot, WORKDIR, USER with no
                                         supplementary groups, no_new_privs, no capabilities, and
                                         an environment of PATH, HOSTNAME, HOME, the image's ENV
                                         and the -e variables only
  image.py manifest ROOTFS               print one line per path (type, mode, owner, size, sha256)

The Dockerfile is the single source of the facts: paths, UID/GID, ENV, port, entrypoint. Any
instruction in the runtime stage that this script cannot mirror is an error, so the Dockerfile and
deploy/container/layout.sh cannot drift apart silently.
"""

import ctypes
import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCKERFILE = os.path.join(ROOT, "Dockerfile")
DOCKERIGNORE = os.path.join(ROOT, ".dockerignore")

# The build stage's artefact, which a binary built outside the image stands in for.
ARTEFACT = "/out/oidc-bff"

# What the runtime base image provides, as far as the layout needs it. The layout copies the
# shared libraries the binary links from this machine (Debian 12, the base's release) and refuses a
# library of a package the base does not ship.
BASES = {
    "gcr.io/distroless/cc-debian12": {
        "packages": {"libc6", "libgcc-s1", "libstdc++6", "libgomp1", "libssl3"},
        "passwd": [
            "root:x:0:0:root:/root:/sbin/nologin",
            "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin",
            "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin",
        ],
        "group": ["root:x:0:", "nobody:x:65534:", "nonroot:x:65532:"],
        # (path, mode, uid): folders the base image has
        "dirs": [("/etc", 0o755, 0), ("/home/nonroot", 0o700, 65532), ("/root", 0o700, 0),
                 ("/tmp", 0o1777, 0), ("/proc", 0o555, 0), ("/dev", 0o755, 0),
                 ("/sys", 0o555, 0), ("/run", 0o755, 0)],
        "path": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    },
}

# Instructions the runtime stage may use (anything else cannot be mirrored).
RUNTIME_INSTRUCTIONS = {"FROM", "COPY", "WORKDIR", "ENV", "USER", "EXPOSE", "STOPSIGNAL",
                        "ENTRYPOINT", "CMD", "LABEL", "ARG"}


class DriftError(Exception):
    pass


def fail(msg):
    raise DriftError(msg)


# --------------------------------------------------------------------------- Dockerfile parsing
def instructions(path):
    """(keyword, arguments, line number) per instruction; continuations joined, comments dropped."""
    out, buf, start = [], "", 0
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line.lstrip().startswith("#"):
                continue  # comments and parser directives, also inside continuations
            if not buf and not line.strip():
                continue
            if not buf:
                start = n
            if line.endswith("\\"):
                buf += line[:-1] + " "
                continue
            buf += line
            keyword, _, args = buf.strip().partition(" ")
            out.append((keyword.upper(), args.strip(), start))
            buf = ""
    if buf:
        fail(f"Dockerfile:{start}: the last instruction ends with a line continuation")
    return out


def stages(path):
    result = []
    for keyword, args, line in instructions(path):
        if keyword == "FROM":
            words = args.split()
            flags = [w for w in words if w.startswith("--")]
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            if len(words) not in (1, 3) or flags:
                fail(f"Dockerfile:{line}: FROM {args}: expected `FROM image [AS name]`")
            result.append({"image": words[0], "name": name, "steps": [], "line": line})
        elif not result:
            if keyword != "ARG":
                fail(f"Dockerfile:{line}: {keyword} before the first FROM")
        else:
            result[-1]["steps"].append((keyword, args, line))
    return result


def exec_form(keyword, args, line):
    try:
        value = json.loads(args)
    except ValueError:
        value = None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        fail(f"Dockerfile:{line}: {keyword} must use the exec (JSON array) form: the runtime image "
             f"has no shell to run `{args}`")
    return value


def env_pairs(args, line):
    words = shlex.split(args)
    if words and "=" not in words[0]:
        if len(words) < 2:
            fail(f"Dockerfile:{line}: ENV {args}: expected KEY=VALUE")
        return [(words[0], " ".join(words[1:]))]
    pairs = []
    for w in words:
        key, eq, value = w.partition("=")
        if not eq or not key:
            fail(f"Dockerfile:{line}: ENV {args}: expected KEY=VALUE pairs")
        pairs.append((key, value))
    return pairs


def copy_args(args, line):
    words = shlex.split(args)
    flags = {}
    while words and words[0].startswith("--"):
        flag, _, value = words.pop(0)[2:].partition("=")
        flags[flag] = value
    unknown = set(flags) - {"from", "link"}
    if unknown:
        fail(f"Dockerfile:{line}: COPY --{sorted(unknown)[0]} is not mirrored by "
             "deploy/container/image.py: extend it, or keep files root-owned as they are now")
    if len(words) < 2:
        fail(f"Dockerfile:{line}: COPY {args}: expected sources and a destination")
    return flags.get("from"), words[:-1], words[-1]


# --------------------------------------------------------------------------- .dockerignore
def ignore_patterns():
    patterns = []
    with open(DOCKERIGNORE, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line[1:].strip() if negate else line).lstrip("/")
            regex, i = "", 0
            while i < len(pattern):
                if pattern.startswith("**/", i):
                    regex, i = regex + "(?:.*/)?", i + 3
                elif pattern.startswith("**", i):
                    regex, i = regex + ".*", i + 2
                elif pattern[i] == "*":
                    regex, i = regex + "[^/]*", i + 1
                elif pattern[i] == "?":
                    regex, i = regex + "[^/]", i + 1
                else:
                    regex, i = regex + re.escape(pattern[i]), i + 1
            patterns.append((re.compile(regex + r"\Z"), negate))
    return patterns


def admitted(relpath, patterns):
    """Whether the build context keeps this file (the last matching pattern decides; a pattern
    that matches a parent folder matches the file, as in Docker)."""
    parts = relpath.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    keep = True
    for regex, negate in patterns:
        if any(regex.match(c) for c in candidates):
            keep = negate
    return keep


def context_files(src, patterns):
    """The context files under a COPY source (a file or a folder), after .dockerignore."""
    full = os.path.join(ROOT, src)
    if os.path.isfile(full):
        rel = os.path.relpath(full, ROOT)
        return [rel] if admitted(rel, patterns) else []
    found = []
    for folder, dirs, files in os.walk(full):
        dirs.sort()
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(folder, name), ROOT)
            if admitted(rel, patterns):
                found.append(rel)
    return found


# --------------------------------------------------------------------------- the facts
def cargo_inputs():
    """Files cargo needs to build the package: the manifest, the lock file, a build script, and
    the source of every target Cargo.toml declares (cargo refuses a declared target whose file is
    missing, even one it does not build)."""
    import tomllib
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as fh:
        manifest = tomllib.load(fh)
    needed = ["Cargo.toml", "Cargo.lock"]
    build = manifest.get("package", {}).get("build")
    if build is None and os.path.isfile(os.path.join(ROOT, "build.rs")):
        build = "build.rs"
    if build:
        needed.append(build)
    defaults = {"lib": "src/lib.rs", "bin": "src/main.rs", "bench": "benches/{}.rs",
                "test": "tests/{}.rs", "example": "examples/{}.rs"}
    targets = [("lib", manifest["lib"])] if "lib" in manifest else []
    for kind in ("bin", "bench", "test", "example"):
        targets += [(kind, t) for t in manifest.get(kind, [])]
    for kind, target in targets:
        path = target.get("path") or defaults[kind].format(target.get("name", ""))
        needed.append(os.path.normpath(path))
    return needed


def facts():
    all_stages = stages(DOCKERFILE)
    if len(all_stages) != 2:
        fail(f"Dockerfile: expected two stages (build, runtime), found {len(all_stages)}")
    build, runtime = all_stages
    if build["name"] != "build" or runtime["name"] != "runtime":
        fail("Dockerfile: the stages must be named `build` and `runtime`, in that order")
    for keyword, _, line in build["steps"] + runtime["steps"]:
        if keyword == "HEALTHCHECK":
            fail(f"Dockerfile:{line}: no HEALTHCHECK: Kubernetes probes /healthz and /readyz")
    build_runs = " ".join(a for k, a, _ in build["steps"] if k == "RUN")
    if "cargo build --release --locked" not in build_runs or ARTEFACT not in build_runs:
        fail(f"Dockerfile: the build stage must run `cargo build --release --locked` and put the "
             f"binary at {ARTEFACT} (image.py substitutes a binary built outside for it)")
    base = runtime["image"].split("@")[0].rsplit(":", 1)[0] if "/" in runtime["image"] else None
    if base not in BASES:
        fail(f"Dockerfile:{runtime['line']}: runtime base {runtime['image']} is not modelled in "
             f"deploy/container/image.py (known: {', '.join(BASES)})")

    patterns = ignore_patterns()
    f = {"base": base, "base_image": runtime["image"], "build_image": build["image"],
         "copies": [], "env": {}, "workdir": "/", "user": None, "expose": [],
         "stopsignal": None, "entrypoint": None, "cmd": None, "context_files": 0}
    build_files = set()
    for keyword, args, line in build["steps"]:
        if keyword == "COPY":
            stage, sources, _ = copy_args(args, line)
            if stage is None:
                for src in sources:
                    files = context_files(src, patterns)
                    if not files:
                        fail(f"Dockerfile:{line}: COPY {src}: .dockerignore leaves nothing of it "
                             "in the build context")
                    build_files.update(files)
    for needed in cargo_inputs():
        if needed not in build_files:
            fail(f"Dockerfile: the build stage does not copy {needed}, which Cargo.toml needs "
                 "(add it to a COPY and to .dockerignore's allow-list)")
    for keyword, args, line in runtime["steps"]:
        if keyword not in RUNTIME_INSTRUCTIONS:
            fail(f"Dockerfile:{line}: {keyword} in the runtime stage cannot be mirrored by "
                 "deploy/container/image.py (the base image has no shell): extend image.py")
        if keyword == "COPY":
            stage, sources, dest = copy_args(args, line)
            if stage not in (None, "build"):
                fail(f"Dockerfile:{line}: COPY --from={stage}: only the build stage is mirrored")
            for src in sources:
                entry = {"from": stage, "src": src, "dest": dest, "line": line}
                if stage is None:
                    files = context_files(src, patterns)
                    if not files:
                        fail(f"Dockerfile:{line}: COPY {src}: .dockerignore leaves nothing of it "
                             "in the build context")
                    entry["files"] = files
                    f["context_files"] += len(files)
                f["copies"].append(entry)
        elif keyword == "WORKDIR":
            f["workdir"] = os.path.normpath(os.path.join(f["workdir"], args.strip()))
        elif keyword == "ENV":
            f["env"].update(env_pairs(args, line))
        elif keyword == "USER":
            if not re.fullmatch(r"\d+:\d+", args.strip()):
                fail(f"Dockerfile:{line}: USER {args}: use numeric UID:GID (Kubernetes' "
                     "runAsNonRoot can only verify a numeric user)")
            uid, gid = (int(x) for x in args.strip().split(":"))
            if uid == 0 or gid == 0:
                fail(f"Dockerfile:{line}: USER {args}: the image must not run as root")
            f["user"] = [uid, gid]
        elif keyword == "EXPOSE":
            f["expose"] += [int(p.split("/")[0]) for p in args.split()]
        elif keyword == "STOPSIGNAL":
            f["stopsignal"] = args.strip()
        elif keyword == "ENTRYPOINT":
            f["entrypoint"] = exec_form(keyword, args, line)
        elif keyword == "CMD":
            f["cmd"] = exec_form(keyword, args, line)

    # What the rest of the project relies on.
    if f["user"] is None:
        fail("Dockerfile: the runtime stage needs `USER <uid>:<gid>` (non-root)")
    if f["stopsignal"] != "SIGTERM":
        fail("Dockerfile: STOPSIGNAL SIGTERM (the BFF drains on SIGTERM)")
    if len(f["expose"]) != 1:
        fail("Dockerfile: EXPOSE exactly one port")
    bind = f["env"].get("BFF_SERVER__BIND", "")
    if not bind.endswith(f":{f['expose'][0]}"):
        fail(f"Dockerfile: ENV BFF_SERVER__BIND={bind!r} does not listen on EXPOSE "
             f"{f['expose'][0]}")
    binary = [c["dest"] for c in f["copies"] if c["from"] == "build" and c["src"] == ARTEFACT]
    if f["entrypoint"] is None or len(binary) != 1 or f["entrypoint"] != binary:
        fail(f"Dockerfile: ENTRYPOINT must be exactly [the binary copied from {ARTEFACT}], "
             f"found {f['entrypoint']}")
    if f["cmd"] != ["serve"]:
        fail(f"Dockerfile: CMD [\"serve\"] expected, found {f['cmd']}")
    config_dir = f["env"].get("BFF_CONFIG_DIR",
                              os.path.join(f["workdir"], "profiles"))
    profile_dests = [os.path.normpath(c["dest"]) for c in f["copies"]
                     if c["from"] is None and os.path.normpath(c["src"]) == "profiles"]
    if os.path.normpath(os.path.join(f["workdir"], config_dir)) not in profile_dests:
        fail(f"Dockerfile: the profiles must be copied to BFF_CONFIG_DIR (or WORKDIR/profiles), "
             f"{config_dir}; they go to {profile_dests}")
    f["binary"] = binary[0]
    f["config_dir"] = config_dir
    f["path"] = f["env"].get("PATH", BASES[base]["path"])
    return f


# --------------------------------------------------------------------------- assembling
def inside(rootfs, path):
    return os.path.join(rootfs, path.lstrip("/"))


def copy_into(rootfs, src, dest):
    target = inside(rootfs, dest)
    if os.path.isdir(target) or dest.endswith("/"):
        target = os.path.join(target, os.path.basename(src))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(src, target)
    os.chown(target, 0, 0)
    os.chmod(target, os.stat(src).st_mode & 0o755)


def shared_libraries(binary):
    out = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


def debian_package(path):
    for candidate in (path, os.path.realpath(path), "/usr" + path, path.replace("/usr/", "/", 1)):
        r = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


def assemble(rootfs, binary):
    f = facts()
    base = BASES[f["base"]]
    os.makedirs(rootfs, exist_ok=True)
    # The base image: its folders, its users, the libraries the binary needs.
    for path, mode, uid in base["dirs"]:
        p = inside(rootfs, path)
        os.makedirs(p, exist_ok=True)
        os.chown(p, uid, uid)
        os.chmod(p, mode)
    with open(inside(rootfs, "/etc/passwd"), "w") as fh:
        fh.write("\n".join(base["passwd"]) + "\n")
    with open(inside(rootfs, "/etc/group"), "w") as fh:
        fh.write("\n".join(base["group"]) + "\n")
    for lib in shared_libraries(binary):
        package = debian_package(lib)
        if package is None or package.split(":")[0] not in base["packages"]:
            fail(f"the binary needs {lib} (Debian package {package}), which {f['base']} does "
                 f"not ship (it has {', '.join(sorted(base['packages']))}): choose another "
                 "runtime image or drop the dependency")
        copy_into(rootfs, os.path.realpath(lib), lib)
    # The runtime stage's own steps.
    for c in f["copies"]:
        if c["from"] == "build":
            src = binary if c["src"] == ARTEFACT else c["src"]  # the build image is Debian 12 too
            copy_into(rootfs, src, c["dest"])
        else:
            src_root = os.path.join(ROOT, c["src"])
            for rel in c["files"]:
                full = os.path.join(ROOT, rel)
                if os.path.isdir(src_root):
                    dest = os.path.join(c["dest"], os.path.relpath(full, src_root))
                else:
                    dest = c["dest"]
                copy_into(rootfs, full, dest)
    os.makedirs(inside(rootfs, f["workdir"]), exist_ok=True)
    # Every folder we made (beyond the base's own) is root's and not writable by others.
    for folder, dirs, _ in os.walk(rootfs):
        for d in dirs:
            p = os.path.join(folder, d)
            if "/" + os.path.relpath(p, rootfs) not in [x[0] for x in base["dirs"]]:
                os.chown(p, 0, 0, follow_symlinks=False)
                os.chmod(p, 0o755)
    os.chown(rootfs, 0, 0)
    os.chmod(rootfs, 0o755)
    return f


def manifest(rootfs):
    lines = []
    for folder, dirs, files in os.walk(rootfs):
        dirs.sort()
        for name in sorted(dirs + files):
            p = os.path.join(folder, name)
            st = os.lstat(p)
            kind = "d" if stat.S_ISDIR(st.st_mode) else "l" if stat.S_ISLNK(st.st_mode) else "f"
            digest = ""
            if kind == "f":
                with open(p, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
            lines.append(f"{kind} {stat.S_IMODE(st.st_mode):04o} {st.st_uid}:{st.st_gid} "
                         f"{st.st_size if kind == 'f' else 0} {digest} "
                         f"/{os.path.relpath(p, rootfs)}")
    return lines


# --------------------------------------------------------------------------- running
def run_as_image(rootfs, extra_env, args):
    f = facts()
    uid, gid = f["user"]
    home = "/"
    for line in BASES[f["base"]]["passwd"]:
        fields = line.split(":")
        if int(fields[2]) == uid:
            home = fields[5]
    env = {"PATH": f["path"], "HOSTNAME": socket.gethostname(), "HOME": home}
    env.update(f["env"])
    env.update(extra_env)
    argv = f["entrypoint"] + (args if args else f["cmd"])
    os.chroot(rootfs)
    os.chdir(f["workdir"])
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)  # also clears the permitted and effective capability sets
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS (allowPrivilegeEscalation: false)
        fail("prctl(PR_SET_NO_NEW_PRIVS) failed")
    os.execve(argv[0], argv, env)


def main(argv):
    try:
        if argv[:1] == ["facts"]:
            f = facts()
            if "--json" in argv:
                print(json.dumps(f, indent=2))
            else:
                for key in ("binary", "workdir", "config_dir", "stopsignal", "base_image"):
                    print(f"IMAGE_{key.upper()}={shlex.quote(str(f[key]))}")
                print(f"IMAGE_UID={f['user'][0]}\nIMAGE_GID={f['user'][1]}")
                print(f"IMAGE_PORT={f['expose'][0]}")
                print(f"IMAGE_ENTRYPOINT={shlex.quote(' '.join(f['entrypoint']))}")
                print(f"IMAGE_CMD={shlex.quote(' '.join(f['cmd']))}")
                print(f"IMAGE_ENV={shlex.quote(' '.join(f'{k}={v}' for k, v in f['env'].items()))}")
                print(f"IMAGE_CONTEXT_FILES={f['context_files']}")
        elif argv[:1] == ["assemble"] and len(argv) == 3:
            assemble(os.path.abspath(argv[1]), os.path.abspath(argv[2]))
        elif argv[:1] == ["manifest"] and len(argv) == 2:
            print("\n".join(manifest(argv[1])))
        elif argv[:1] == ["exec"] and len(argv) >= 2:
            rootfs, rest, env = argv[1], argv[2:], {}
            while rest and rest[0] == "-e":
                key, _, value = rest[1].partition("=")
                env[key] = value
                rest = rest[2:]
            if rest[:1] == ["--"]:
                rest = rest[1:]
            run_as_image(os.path.abspath(rootfs), env, rest)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except DriftError as e:
        print(f"image.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
