import { HttpClient, HttpInterceptorFn, withInterceptors } from '@angular/common/http';
import { TestBed } from '@angular/core/testing';
import { firstValueFrom } from 'rxjs';
import { alice, answerSession, Blank, setUp } from '../testing/harness';
import { provideOidcBff } from './provide-oidc-bff';

describe('provideOidcBff', () => {
  it('asks the BFF once at startup, and again on each navigation', async () => {
    const h = await setUp({ routes: [{ path: '**', component: Blank }], initial: null });
    await answerSession(h, alice()); // the startup request
    expect(h.store.authenticated()).toBe(true);

    const navigation = h.router.navigateByUrl('/somewhere');
    await answerSession(h, { authenticated: false }); // the navigation's request
    await navigation;
    expect(h.store.authenticated()).toBe(false);
  });

  it('with refreshOnNavigation: false, navigations do not ask', async () => {
    const h = await setUp({ routes: [{ path: '**', component: Blank }], config: { refreshOnNavigation: false } });
    expect(await h.router.navigateByUrl('/somewhere')).toBe(true);
    h.http.expectNone('/api/session');
  });

  it('takes more HttpClient features after the config, and the app\'s interceptors run too', async () => {
    const seen: string[] = [];
    const appInterceptor: HttpInterceptorFn = (req, next) => {
      seen.push(`${req.url} credentials=${req.withCredentials}`);
      return next(req);
    };
    const h = await setUp({ httpFeatures: [withInterceptors([appInterceptor])] });
    void firstValueFrom(TestBed.inject(HttpClient).get('/api/x'));
    h.http.expectOne('/api/x').flush({});
    expect(seen).toContain('/api/x credentials=true');
  });

  it('refuses a configuration that cannot work when the app starts', async () => {
    expect(() => provideOidcBff({ sessionPath: 'api/session' })).toThrow(/`sessionPath`/);
  });
});
