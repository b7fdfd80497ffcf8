import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { linkOf } from './model/links';
import { APIError, RequestFunction } from './types';

/** The server extension's route prefix, under the Jupyter server's base URL. */
export const API_NAMESPACE = 'execplanner';

/**
 * Call the labserver extension: `{baseUrl}execplanner/{endPoint}`, through
 * `ServerConnection.makeRequest` (which adds the XSRF token and the server's auth).
 *
 * Answers the parsed JSON body (undefined for an empty one, such as a 204), or throws an
 * `APIError` carrying the HTTP status and the server's `message`.
 */
export async function requestAPI<T = unknown>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new APIError(
      0,
      `Could not reach the Jupyter server: ${String(error)}`
    );
  }
  const text = await response.text();
  let data: unknown = undefined;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!response.ok) {
    const field =
      data && typeof data === 'object' && 'field' in data
        ? (data as { field: unknown }).field
        : null;
    throw new APIError(
      response.status,
      errorMessage(response.status, url, data),
      typeof field === 'string' ? field : null,
      linkOf(data)
    );
  }
  return data as T;
}

/** The message of a failed call: the server's `{message}`, or what a bare status means here. */
export function errorMessage(
  status: number,
  url: string,
  data: unknown
): string {
  if (data && typeof data === 'object' && 'message' in data) {
    const message = (data as { message: unknown }).message;
    if (typeof message === 'string' && message) {
      return message;
    }
  }
  if (status === 404) {
    return (
      `The execplanner server extension is not available on this Jupyter server ` +
      `(${url} answered 404). Install jupyterhub-execplanner in the server's environment ` +
      `and restart the server.`
    );
  }
  return `${url} answered HTTP ${status}`;
}

/** A `RequestFunction` bound to the current server settings (what the panel's model uses). */
export function makeRequestFunction(
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): RequestFunction {
  return <T>(endPoint: string, init?: RequestInit) =>
    requestAPI<T>(endPoint, init ?? {}, settings);
}
