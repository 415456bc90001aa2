import { isLocalPath, loginUrl } from './login-url';

describe('loginUrl', () => {
  it('encodes a local returnTo as one query parameter', () => {
    expect(loginUrl('/api/login', '/chat?x=1&y=2#top')).toBe('/api/login?returnTo=%2Fchat%3Fx%3D1%26y%3D2%23top');
  });

  it('sends anything that is not a local path back to the start page', () => {
    for (const returnTo of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'chat', '']) {
      expect(loginUrl('/api/login', returnTo)).toBe('/api/login?returnTo=%2F');
    }
  });

  it('recognises local paths', () => {
    expect(isLocalPath('/')).toBe(true);
    expect(isLocalPath('/a/b?c')).toBe(true);
    expect(isLocalPath('//a')).toBe(false);
    expect(isLocalPath('/a\\b')).toBe(false);
  });
});
