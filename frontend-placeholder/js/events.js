// Server-Sent Events read with fetch(): EventSource cannot send the Authorization header.

import { Unreachable, request } from "./api.js";

const RETRY_MS = [1000, 2000, 5000, 10000];

/**
 * Follows GET /jobs/{id}/events: calls onJob(job) with each `job` event until the job
 * ended or `signal` aborts. A stream that breaks off before the end is opened again
 * (with Last-Event-ID, so the last event is not sent twice). Errors other than a lost
 * connection (401, 404) go to onError and end the following.
 */
export async function followJob(jobId, { onJob, onError, signal }) {
  let lastEventId = null;
  let failures = 0;
  while (!signal.aborted) {
    let ended = false;
    try {
      const headers = { Accept: "text/event-stream" };
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      const response = await request(`/jobs/${jobId}/events`, { headers, signal });
      for await (const event of readEvents(response.body, signal)) {
        failures = 0;
        if (event.id) lastEventId = event.id;
        if (event.type !== "job") continue;
        const job = JSON.parse(event.data);
        onJob(job);
        ended = isEnded(job);
      }
    } catch (error) {
      if (signal.aborted) return;
      // A connection lost mid-stream is a TypeError of the reader.
      if (!(error instanceof Unreachable || error instanceof TypeError)) {
        onError(error);
        return;
      }
    }
    if (ended) return;
    // Broken off (a restart of the API, a proxy's timeout): again, a little later.
    await pause(RETRY_MS[Math.min(failures, RETRY_MS.length - 1)], signal);
    failures += 1;
  }
}

export function isEnded(job) {
  return ["succeeded", "failed", "cancelled"].includes(job.state);
}

/** The events of a text/event-stream body, as {type, data, id}. */
async function* readEvents(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const stop = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", stop, { once: true });
  let buffer = "";
  let event = newEvent();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop(); // an incomplete line waits for the next chunk
      for (const line of lines) {
        if (line === "") {
          // A blank line ends an event (a ping, a bare comment, has no data).
          if (event.data.length) yield { ...event, data: event.data.join("\n") };
          event = newEvent();
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.type = value;
        else if (field === "data") event.data.push(value);
        else if (field === "id") event.id = value;
      }
    }
  } finally {
    signal.removeEventListener("abort", stop);
  }
}

function newEvent() {
  return { type: "message", data: [], id: null };
}

export function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
