import { Routes } from '@angular/router';
import { authGuard } from './auth/auth.guard';
import Home from './pages/home';

export const routes: Routes = [
  { path: '', title: 'oidc-bff demo', component: Home },
  { path: 'chat', title: 'Chat · oidc-bff demo', canActivate: [authGuard], loadComponent: () => import('./pages/chat') },
  {
    path: 'analytics',
    title: 'Analytics · oidc-bff demo',
    canActivate: [authGuard],
    loadComponent: () => import('./pages/analytics'),
  },
  { path: '**', redirectTo: '' },
];
