import { ToolGymError } from '@toolgym/protocol';

/**
 * Why a page could not be shown. Codes: `url_not_allowed`, `bad_url`, `http_status`,
 * `page_timeout`, `navigation_failed`, `browser_closed`. The environment turns these into
 * model-visible tool errors; the message says what happened and what the model can do.
 */
export class BrowserError extends ToolGymError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** Chromium could not be started: a configuration error, it names what to fix. */
export class BrowserLaunchError extends ToolGymError {
  constructor(executablePath: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    super(
      'browser_launch_failed',
      `could not start Chromium at ${executablePath}: ${reason}`,
      'install chromium (apt-get install chromium) or set TOOLGYM_CHROMIUM to its path',
    );
  }
}
