export { upgradeWebSocket } from '@hono/node-server';
export { allowedHostNames, hostOriginGuard, isLoopback } from './allowed-hosts.ts';
export { type AuthVariables, type BearerAuthOptions, bearerAuth } from './bearer-auth.ts';
export {
  type AppEnv,
  type AppSettings,
  createHttpApp,
  type HttpApp,
  type ListenOptions,
  type RunningServer,
} from './http-app.ts';
export { type ErrorBody, HttpConfigError, HttpError, PortInUseError } from './http-error.ts';
export { bodyLimit, readJson } from './json-body.ts';
export { requestLog } from './request-log.ts';
export { mountRoutes, type Route } from './routes.ts';
export { type SessionCapOptions, sessionCap } from './session-cap.ts';
export { type GuardProbes, type ProbeAnswer, probeGuards } from './guard-probe.ts';
