import { ActivatedRouteSnapshot } from '@angular/router';

/** The guards of this library (`authGuard` and every `roleGuard(...)`), to recognise guarded routes. */
const sessionGuards = new WeakSet<object>();

export function markSessionGuard<T extends object>(guard: T): T {
  sessionGuards.add(guard);
  return guard;
}

/**
 * Whether the page shown needs a session: some route on the active path (root to leaf, every
 * outlet) has one of this library's guards in `canActivate`, `canActivateChild` or `canMatch`.
 */
export function showsGuardedRoute(root: ActivatedRouteSnapshot): boolean {
  const pending = [root];
  for (let route = pending.pop(); route; route = pending.pop()) {
    const config = route.routeConfig;
    const guards = [...(config?.canActivate ?? []), ...(config?.canActivateChild ?? []), ...(config?.canMatch ?? [])];
    if (guards.some((guard) => typeof guard === 'function' && sessionGuards.has(guard))) return true;
    pending.push(...route.children);
  }
  return false;
}
