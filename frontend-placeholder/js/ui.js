// Small helpers shared by the views.

import { ApiError, SessionExpired, Unreachable } from "./api.js";

export const byId = (id) => document.getElementById(id);

/** Says `text` in the status line (an aria-live region: screen readers read it out). */
export function announce(text) {
  byId("status").textContent = text;
}

export function shortId(id) {
  return id.slice(0, 8);
}

export function when(moment) {
  return moment ? new Date(moment).toLocaleString() : "—";
}

export function percent(progress) {
  return `${Math.round(progress * 100)} %`;
}

export function json(value) {
  return value === null || value === undefined ? "—" : JSON.stringify(value, null, 2);
}

export function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** The API's detail as a sentence: a text, or FastAPI's list of field errors. */
export function describeDetail(detail) {
  if (Array.isArray(detail)) {
    return detail.map((failure) => `${failure.loc.join(".")}: ${failure.msg}`).join("; ");
  }
  return String(detail);
}

/** Sets a state cell or line: its text and a class to colour it by. */
export function showState(element, state) {
  element.textContent = state;
  element.className = `state state-${state}`;
}

let sessionExpired = () => {};
export function onSessionExpired(handler) { sessionExpired = handler; }

/** Runs a view's action; what goes wrong is said on the page. */
export async function guard(action) {
  try {
    await action();
  } catch (error) {
    if (error.name === "AbortError") return;
    if (error instanceof SessionExpired) sessionExpired();
    else if (error instanceof Unreachable) announce("The API cannot be reached.");
    else if (error instanceof ApiError) announce(`Refused: ${describeDetail(error.detail)}`);
    else throw error;
  }
}
