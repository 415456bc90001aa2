import { OIDC_BFF_DEFAULTS, resolveOidcBffConfig } from './config';

describe('resolveOidcBffConfig', () => {
  it('fills in the BFF\'s own paths and names', () => {
    expect(resolveOidcBffConfig()).toEqual(OIDC_BFF_DEFAULTS);
    expect(OIDC_BFF_DEFAULTS).toMatchObject({
      loginPath: '/api/login',
      sessionPath: '/api/session',
      logoutPath: '/api/logout',
      xsrfCookieName: 'XSRF-TOKEN',
      xsrfHeaderName: 'X-XSRF-TOKEN',
      expiryWarningSeconds: 0,
    });
  });

  it('keeps what is given and leaves undefined fields at their defaults', () => {
    const config = resolveOidcBffConfig({ forbiddenRoute: '/forbidden', expiryWarningSeconds: 120, loginPath: undefined });
    expect(config.forbiddenRoute).toBe('/forbidden');
    expect(config.expiryWarningSeconds).toBe(120);
    expect(config.loginPath).toBe('/api/login');
  });

  it('refuses values that cannot work, naming the field', () => {
    expect(() => resolveOidcBffConfig({ loginPath: 'api/login' })).toThrow(/`loginPath`/);
    expect(() => resolveOidcBffConfig({ forbiddenRoute: '//evil.example' })).toThrow(/`forbiddenRoute`/);
    expect(() => resolveOidcBffConfig({ expiryWarningSeconds: -1 })).toThrow(/`expiryWarningSeconds`/);
    expect(() => resolveOidcBffConfig({ expiryWarningSeconds: Number.NaN })).toThrow(/`expiryWarningSeconds`/);
    expect(() => resolveOidcBffConfig({ crossTabChannel: '' })).toThrow(/`crossTabChannel`/);
    expect(() => resolveOidcBffConfig({ xsrfHeaderName: '' })).toThrow(/`xsrfHeaderName`/);
  });
});
