// One job (#/jobs/ID): its state live, inputs, outputs, log, artifacts; cancel, delete.

import { ApiError, Unreachable, getJson, request } from "./api.js";
import { followJob, isEnded, pause } from "./events.js";
import { announce, byId, describeDetail, guard, json, percent, showState, size, when } from "./ui.js";

const LOG_POLL_MS = 1000;

let job = null; // the job shown, as last read

export function setUpJobView() {
  byId("cancel-job").addEventListener("click", () => guard(cancel));
  byId("delete-job").addEventListener("click", () => guard(remove));
}

export async function showJob(id, signal) {
  job = null;
  byId("job-heading").textContent = `Job ${id}`;
  byId("job-log").textContent = "";
  byId("job-artifacts").replaceChildren();
  byId("no-artifacts").hidden = true;
  let first;
  try {
    first = await getJson(`/jobs/${id}`, { signal });
  } catch (error) {
    if (!(error instanceof ApiError && [404, 410, 422].includes(error.status))) throw error;
    byId("job-heading").textContent = "Job not found";
    byId("job-missing").textContent =
      error.status === 410 ? describeDetail(error.detail) : "No such job, or not yours.";
    byId("job-missing").hidden = false;
    byId("job-details").hidden = true;
    return;
  }
  byId("job-missing").hidden = true;
  byId("job-details").hidden = false;
  render(first);
  const following = isEnded(first)
    ? Promise.resolve()
    : followJob(id, {
      onJob: render,
      onError: (error) => guard(() => { throw error; }),
      signal,
    });
  await Promise.all([following, followLog(id, signal)]);
}

function render(update) {
  const before = job;
  job = update;
  byId("job-tool").textContent = `${update.tool} ${update.tool_version}`;
  showState(byId("job-state"), update.state);
  byId("job-progress").value = update.progress;
  byId("job-progress-text").textContent = percent(update.progress);
  byId("job-message").textContent = update.message ?? "—";
  byId("job-created").textContent = when(update.created_at);
  byId("job-finished").textContent = when(update.finished_at);
  byId("job-inputs").textContent = json(update.inputs);
  byId("job-outputs").textContent = json(update.outputs);
  byId("job-error-box").hidden = update.error === null;
  byId("job-error").textContent = update.error ? `${update.error.type}: ${update.error.message}` : "";
  const ended = isEnded(update);
  byId("cancel-job").hidden = ended || update.cancel_requested;
  byId("delete-job").hidden = !ended;
  if (before && before.state !== update.state) announce(`The job is ${update.state}.`);
  if (!ended) showNoArtifacts("Listed once the job has ended.");
  if (ended && (!before || !isEnded(before))) guard(loadArtifacts);
}

/** Reads the log from where it stopped until the job ended, then once more. */
async function followLog(id, signal) {
  let offset = 0;
  while (!signal.aborted) {
    const endedBefore = job !== null && isEnded(job);
    try {
      const response = await request(`/jobs/${id}/logs?offset=${offset}`, { signal });
      const text = await response.text();
      if (text) byId("job-log").append(text);
      offset = Number(response.headers.get("X-Next-Offset") ?? offset);
      if (endedBefore) return;
    } catch (error) {
      // The banner says the API is away; the log goes on once it answers.
      if (!(error instanceof Unreachable)) throw error;
    }
    await pause(LOG_POLL_MS, signal);
  }
}

async function loadArtifacts() {
  const id = job.id;
  const artifacts = await getJson(`/jobs/${id}/artifacts`);
  const list = byId("job-artifacts");
  list.replaceChildren(...artifacts.map((artifact) => artifactItem(id, artifact)));
  if (artifacts.length) byId("no-artifacts").hidden = true;
  else showNoArtifacts("None.");
}

function showNoArtifacts(text) {
  byId("no-artifacts").textContent = text;
  byId("no-artifacts").hidden = false;
}

function artifactItem(id, artifact) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.textContent = `Download ${artifact.name}`;
  button.addEventListener("click", () => guard(() => download(id, artifact.name)));
  const facts = document.createElement("span");
  facts.className = "hint";
  facts.textContent = ` ${size(artifact.size)}, ${artifact.content_type}, sha256 ${artifact.sha256}`;
  item.append(button, facts);
  return item;
}

/**
 * The artifact fetched with the token, then saved from a blob: a plain link could not
 * carry the Authorization header. (A store's presigned URL is fetched without it: the
 * browser drops Authorization when a redirect leaves this origin.)
 */
async function download(id, name) {
  announce(`Downloading ${name}…`);
  let response;
  try {
    response = await request(`/jobs/${id}/artifacts/${encodeURIComponent(name)}`);
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    // The API, or the store its 307 leads to (down, or its CORS rules leave this page out).
    announce(`${name} was not downloaded: no answer from the API or the store it redirects to.`);
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked once the browser has surely started the save.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  announce(`Downloaded ${name}.`);
}

async function cancel() {
  try {
    render(await getJson(`/jobs/${job.id}/cancel`, { method: "POST" }));
    announce("Cancellation requested: the job stops within seconds.");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 409)) throw error;
    announce(`Not cancelled: ${describeDetail(error.detail)}`);
  }
}

async function remove() {
  if (!window.confirm(`Delete job ${job.id}, its log and its artifacts?`)) return;
  await request(`/jobs/${job.id}`, { method: "DELETE" });
  announce(`Job ${job.id} deleted.`);
  location.hash = "#/";
}
