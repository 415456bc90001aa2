import { TestBed } from '@angular/core/testing';
import { Blank, navigate, setUp } from '../testing/harness';
import { SignInError, signInErrorMessage } from './sign-in-error';

describe('sign-in errors', () => {
  it('every code the BFF sends has its own message; others a generic one', () => {
    const codes = ['access_denied', 'sso_error', 'invalid_state', 'login_expired', 'invalid_issuer', 'invalid_request',
      'code_rejected', 'invalid_id_token', 'sso_unavailable', 'session_too_large'];
    const generic = signInErrorMessage('something_new');
    expect(generic).toBe('Sign-in failed. Please try again.');
    const messages = codes.map(signInErrorMessage);
    expect(messages.every((m) => m !== generic)).toBe(true);
    expect(new Set(messages).size).toBe(codes.length);
    expect(signInErrorMessage('__proto__')).toBe(generic);
  });

  it('SignInError reads ?authError from the URL, and dismiss() removes only that parameter', async () => {
    const h = await setUp({ routes: [{ path: '**', component: Blank }] });
    const error = TestBed.inject(SignInError);
    expect(error.code()).toBeNull();
    await navigate(h, '/welcome?authError=access_denied&lang=en', { authenticated: false });
    expect(error.code()).toBe('access_denied');
    expect(error.message()).toBe(signInErrorMessage('access_denied'));

    expect(await error.dismiss()).toBe(true); // no guard on the way: it does not wait for the BFF
    expect(h.router.url).toBe('/welcome?lang=en');
    expect(error.code()).toBeNull();
    expect(error.message()).toBe('');
  });
});
