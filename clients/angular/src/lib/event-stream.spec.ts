import { parseEventStream, ServerSentEvent } from './event-stream';

/** A body whose chunks the test pushes one by one (as bytes, split wherever the test likes). */
function controlledBody() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const encoder = new TextEncoder();
  return {
    body,
    push: (chunk: string | Uint8Array) => controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk),
    end: () => controller.close(),
  };
}

async function parseAll(...chunks: (string | Uint8Array)[]): Promise<ServerSentEvent[]> {
  const { body, push, end } = controlledBody();
  chunks.forEach(push);
  end();
  const events: ServerSentEvent[] = [];
  for await (const event of parseEventStream(body)) events.push(event);
  return events;
}

describe('parseEventStream', () => {
  it('yields each event as soon as its blank line arrives, before the stream goes on', async () => {
    const { body, push, end } = controlledBody();
    const events = parseEventStream(body);
    push('data: {"index":0}\n\n');
    expect((await events.next()).value).toEqual({ event: 'message', data: '{"index":0}', id: '' });
    push('data: {"index":1}\n');
    const second = events.next(); // incomplete: waits for the blank line
    push('\n');
    expect((await second).value).toEqual({ event: 'message', data: '{"index":1}', id: '' });
    end();
    expect((await events.next()).done).toBe(true);
  });

  it('reads named events, multi-line data, ids, comments and one optional space', async () => {
    const events = await parseAll(': keep-alive\n', 'event: token\nid: 7\ndata:first\ndata:  second\n\n', 'event: done\ndata: {}\n\n');
    expect(events).toEqual([
      { event: 'token', data: 'first\n second', id: '7' },
      { event: 'done', data: '{}', id: '7' },
    ]);
  });

  it('takes CRLF, LF and CR line ends, also a CRLF split between two chunks', async () => {
    const events = await parseAll('data: a\r', '\n\r', '\ndata: b\r\rdata: c\n\n');
    expect(events.map((e) => e.data)).toEqual(['a', 'b', 'c']);
  });

  it('keeps a UTF-8 character split between two chunks whole', async () => {
    const bytes = new TextEncoder().encode('data: grüße\n\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of "ü"
    const events = await parseAll(bytes.slice(0, cut), bytes.slice(cut));
    expect(events.map((e) => e.data)).toEqual(['grüße']);
  });

  it('does not dispatch an event without data, nor an unfinished one at the end', async () => {
    const events = await parseAll('event: ping\n\n', 'data: kept\n\n', 'data: cut off\n');
    expect(events.map((e) => e.data)).toEqual(['kept']);
  });

  it('stopping early cancels the body', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(new TextEncoder().encode('data: 1\n\ndata: 2\n\n')),
      cancel: () => void (cancelled = true),
    });
    for await (const event of parseEventStream(body)) {
      expect(event.data).toBe('1');
      break;
    }
    expect(cancelled).toBe(true);
  });
});
