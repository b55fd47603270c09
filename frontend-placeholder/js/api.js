// Calls to the API the page is served with (same origin: the page's CSP allows no other).

const API = "/api/v1";
const TOKEN_KEY = "tooljobs.token";

/** The token was refused (expired, or revoked): the person signs in again. */
export class SessionExpired extends Error {}

/** No answer at all: the network or the API is down. */
export class Unreachable extends Error {}

/** An answer with an error status; `detail` is the API's (a text, or FastAPI's list). */
export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `the API answered ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

// Kept for the browser tab only: closing it signs out.
export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, value);
  },
};

// Told of each answer and each failure to reach the API, to show or hide the banner.
let reachabilityListener = () => {};
export function onReachability(listener) { reachabilityListener = listener; }

/**
 * fetch() on the API with the bearer token. Resolves with the Response when it is 2xx;
 * throws SessionExpired on 401, Unreachable on a network error, ApiError otherwise.
 * `json` is sent as a JSON body; `body` (FormData, URLSearchParams) as it is.
 */
export async function request(path, { method = "GET", json, body, headers, signal } = {}) {
  const sent = new Headers(headers);
  if (session.token) sent.set("Authorization", `Bearer ${session.token}`);
  if (json !== undefined) {
    sent.set("Content-Type", "application/json");
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(`${API}${path}`, { method, body, headers: sent, signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    reachabilityListener(false);
    throw new Unreachable("the API cannot be reached");
  }
  reachabilityListener(true);
  if (response.status === 401) throw new SessionExpired("the session expired");
  if (!response.ok) throw new ApiError(response.status, await detailOf(response));
  return response;
}

export async function getJson(path, options) {
  return (await request(path, options)).json();
}

async function detailOf(response) {
  try {
    return (await response.json()).detail;
  } catch {
    return `the API answered ${response.status}`;
  }
}

/** A bearer token for these credentials (OAuth2's password form); ApiError when refused. */
export async function signIn(username, password) {
  let response;
  try {
    response = await fetch(`${API}/login/access-token`, {
      method: "POST",
      body: new URLSearchParams({ username, password }),
    });
  } catch {
    reachabilityListener(false);
    throw new Unreachable("the API cannot be reached");
  }
  reachabilityListener(true);
  if (!response.ok) throw new ApiError(response.status, await detailOf(response));
  return (await response.json()).access_token;
}
