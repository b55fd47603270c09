// The jobs list (#/): the tools with their forms, the user's jobs, updated live.

import { ApiError, getJson } from "./api.js";
import { followJob, isEnded, pause } from "./events.js";
import { FieldProblem, buildFields } from "./schema-form.js";
import { announce, byId, describeDetail, guard, percent, shortId, showState, when } from "./ui.js";

// Each stream holds one of the browser's few connections to the API (six over
// HTTP/1.1): a few unfinished jobs are followed live, the list is re-read for the rest.
const MAX_STREAMS = 3;
const RELOAD_MS = 5000;

let tools = [];
let form = null; // the model of the current tool's form
let signal = null; // the view's: aborted when the person leaves it
const followed = new Set();
let nextCursor = null;

export function setUpJobsView() {
  byId("tool-select").addEventListener("change", () => chooseTool(byId("tool-select").value));
  byId("submit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guard(submit);
  });
  byId("more-jobs").addEventListener("click", () => guard(() => loadJobs(nextCursor)));
}

export async function showJobs(viewSignal) {
  signal = viewSignal;
  followed.clear();
  byId("jobs-body").replaceChildren();
  await Promise.all([loadTools(), loadJobs(null)]);
  reloadWhileUnfollowed(viewSignal);
}

async function loadTools() {
  if (tools.length) return;
  tools = (await getJson("/tools")).filter((tool) => tool.status === "ok");
  const select = byId("tool-select");
  select.replaceChildren(...tools.map((tool) => new Option(`${tool.title} (${tool.name})`, tool.name)));
  if (tools.length) chooseTool(tools[0].name);
}

function chooseTool(name) {
  const tool = tools.find((candidate) => candidate.name === name);
  byId("tool-select").value = name;
  byId("tool-description").textContent = tool.description;
  byId("submit-error").textContent = "";
  form = buildFields(byId("tool-fields"), tool.inputs_schema);
}

async function submit() {
  const button = byId("submit-form").querySelector("button[type=submit]");
  const problem = byId("submit-error");
  form.clearErrors();
  problem.textContent = "";
  button.disabled = true;
  try {
    const inputs = await form.read(upload);
    announce("Submitting…");
    const job = await getJson("/jobs", {
      method: "POST",
      json: { tool: byId("tool-select").value, inputs },
    });
    announce(`Job ${shortId(job.id)} (${job.tool}) submitted: ${job.state}.`);
    showRow(job, { first: true });
    follow(job);
  } catch (error) {
    if (error instanceof FieldProblem) {
      announce("");
      form.showErrors([[error.field, error.message]]);
    } else if (error instanceof ApiError && error.status === 422 && Array.isArray(error.detail)) {
      announce("The inputs were refused: see the fields.");
      problem.textContent = form.showErrors(error.detail.map(fieldError)).join("; ");
    } else if (error instanceof ApiError) {
      announce("");
      problem.textContent = `Not submitted: ${describeDetail(error.detail)}`;
    } else {
      throw error;
    }
  } finally {
    button.disabled = false;
  }
}

/** [input name, message] of a 422 item; null for an error that is not an input's. */
function fieldError(failure) {
  const at = failure.loc.indexOf("inputs");
  const name = at !== -1 && at + 1 < failure.loc.length ? String(failure.loc[at + 1]) : null;
  return [name, failure.msg];
}

async function upload(file, field) {
  announce(`Uploading ${file.name}…`);
  const body = new FormData();
  body.append("file", file);
  try {
    return (await getJson("/files", { method: "POST", body })).id;
  } catch (error) {
    if (error instanceof ApiError) {
      throw new FieldProblem(field, `${file.name} was not uploaded: ${describeDetail(error.detail)}`);
    }
    throw error;
  }
}

async function loadJobs(cursor) {
  const query = new URLSearchParams({ limit: "50" });
  if (cursor) query.set("cursor", cursor);
  const page = await getJson(`/jobs?${query}`, { signal });
  for (const job of page.items) showRow(job, { first: false });
  nextCursor = page.next_cursor;
  byId("more-jobs").hidden = nextCursor === null;
  byId("no-jobs").hidden = byId("jobs-body").rows.length > 0;
  for (const job of page.items) follow(job);
}

function follow(job) {
  if (isEnded(job) || followed.has(job.id) || followed.size >= MAX_STREAMS) return;
  followed.add(job.id);
  const viewSignal = signal;
  followJob(job.id, {
    onJob: (update) => showRow(update, { first: false }),
    onError: (error) => guard(() => { throw error; }),
    signal: viewSignal,
  }).finally(() => followed.delete(job.id));
}

/** While unfinished jobs are not followed (too many), the first page is read again. */
async function reloadWhileUnfollowed(viewSignal) {
  while (!viewSignal.aborted) {
    await pause(RELOAD_MS, viewSignal);
    if (viewSignal.aborted) return;
    const unfollowed = [...byId("jobs-body").rows].some(
      (row) => row.dataset.ended === "false" && !followed.has(row.dataset.jobId),
    );
    if (unfollowed) await guard(() => loadJobs(null));
  }
}

function showRow(job, { first }) {
  const body = byId("jobs-body");
  let row = body.querySelector(`tr[data-job-id="${job.id}"]`);
  if (!row) {
    row = newRow(job);
    if (first) body.prepend(row);
    else body.append(row);
    byId("no-jobs").hidden = true;
  }
  const [, , state, progress, message] = row.cells;
  const before = row.dataset.state;
  row.dataset.state = job.state;
  row.dataset.ended = String(isEnded(job));
  showState(state, job.state);
  progress.querySelector("progress").value = job.progress;
  progress.querySelector("span").textContent = percent(job.progress);
  message.textContent = job.message ?? "";
  if (before && before !== job.state && isEnded(job)) {
    announce(`Job ${shortId(job.id)} (${job.tool}) ${job.state}.`);
  }
}

function newRow(job) {
  const row = document.createElement("tr");
  row.dataset.jobId = job.id;
  const link = document.createElement("a");
  link.href = `#/jobs/${job.id}`;
  link.textContent = shortId(job.id);
  link.setAttribute("aria-label", `Job ${job.id}`);
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.setAttribute("aria-label", `Progress of job ${shortId(job.id)}`);
  const cells = [link, job.tool, "", [bar, document.createElement("span")], "", when(job.created_at)];
  for (const content of cells) {
    const cell = row.insertCell();
    if (Array.isArray(content)) cell.append(...content);
    else cell.append(content);
  }
  row.cells[4].className = "message";
  return row;
}
