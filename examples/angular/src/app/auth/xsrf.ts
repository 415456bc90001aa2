/**
 * The value of the BFF's `XSRF-TOKEN` cookie, to send as the `X-XSRF-TOKEN` header.
 *
 * This is the ONE place the app reads that cookie. HttpClient adds the header by itself
 * (`withXsrfConfiguration` in app.config.ts); `fetch()` has no XSRF support, so requests that
 * must use `fetch` (streamed responses, see chat/chat-stream.ts) call this instead.
 */
export function readXsrfToken(): string {
  for (const part of document.cookie.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === 'XSRF-TOKEN') return decodeURIComponent(value.join('='));
  }
  return '';
}
