import { Routes } from '@angular/router';
import { authGuard, roleGuard } from '@oidc-bff/angular';
import Home from './pages/home';

export const routes: Routes = [
  { path: '', title: 'oidc-bff demo', component: Home },
  { path: 'chat', title: 'Chat · oidc-bff demo', canActivate: [authGuard], loadComponent: () => import('./pages/chat') },
  {
    path: 'analytics',
    title: 'Analytics · oidc-bff demo',
    canActivate: [roleGuard('analyst')],
    loadComponent: () => import('./pages/analytics'),
  },
  { path: 'forbidden', title: 'No access · oidc-bff demo', loadComponent: () => import('./pages/forbidden') },
  { path: '**', redirectTo: '' },
];
