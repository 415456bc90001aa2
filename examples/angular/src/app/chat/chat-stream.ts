import { readXsrfToken } from '../auth/xsrf';

/** One server-sent event of `/api/chat/stream`: `data: {"index": 0, "token": "Hello"}`. */
export interface ChatToken {
  index: number;
  token: string;
}

/** A non-2xx answer of the chat stream endpoint (401: no session, 403: role or CSRF, 5xx: upstream). */
export class ChatStreamError extends Error {
  constructor(readonly status: number) {
    super(`The chat service answered ${status}.`);
  }
}

/**
 * POSTs `{"message": text}` to `/api/chat/stream` and yields each token as its server-sent event
 * arrives; returns when the `done` event (or the end of the stream) comes.
 *
 * Why `fetch` and not HttpClient: HttpClient hands over a response only once it is complete,
 * while `fetch` exposes the body as a stream. (`EventSource` cannot POST.) `fetch` has no XSRF
 * support, so the CSRF header is added here; and interceptors do not see it, so the caller handles
 * a 401 (ChatStreamError) as the interceptor would.
 */
export async function* streamChat(message: string, signal?: AbortSignal): AsyncGenerator<ChatToken> {
  const response = await fetch('/api/chat/stream', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', 'X-XSRF-TOKEN': readXsrfToken() },
    body: JSON.stringify({ message }),
    signal,
  });
  if (!response.ok || !response.body) {
    throw new ChatStreamError(response.status);
  }

  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = 'message';
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      // Server-sent events: lines of `field: value`; a blank line ends one event.
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (event === 'done') return;
          if (event === 'message' && data.length) yield JSON.parse(data.join('\n')) as ChatToken;
          event = 'message';
          data = [];
        } else if (line.startsWith('event:')) {
          event = line.slice(6).trim();
        } else if (line.startsWith('data:')) {
          data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
        } // `id:`, `retry:` and `: comments` are not used here
      }
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}
