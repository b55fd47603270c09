// The jobs page: sign in, then the jobs list (#/) or one job (#/jobs/ID).

import { ApiError, Unreachable, getJson, onReachability, session, signIn } from "./api.js";
import { showJob, setUpJobView } from "./job-view.js";
import { setUpJobsView, showJobs } from "./jobs-view.js";
import { announce, byId, describeDetail, guard, onSessionExpired } from "./ui.js";

const VIEWS = ["sign-in-view", "jobs-view", "job-view"];
let current = new AbortController(); // aborted when the view changes: its streams stop

function showView(id) {
  for (const view of VIEWS) byId(view).hidden = view !== id;
  byId("account").hidden = id === "sign-in-view";
}

function signInView(message) {
  current.abort();
  byId("sign-in-message").textContent = message;
  showView("sign-in-view");
  // After an expiry the email is still there: the password is what to type.
  byId(byId("username").value ? "password" : "username").focus();
}

function expire() {
  session.token = null;
  signInView("Your session expired: sign in again.");
}

async function route() {
  current.abort();
  current = new AbortController();
  if (!session.token) {
    signInView("");
    return;
  }
  const match = location.hash.match(/^#\/jobs\/([0-9a-fA-F-]{32,36})$/);
  if (match) {
    showView("job-view");
    await guard(() => showJob(match[1], current.signal));
  } else {
    showView("jobs-view");
    await guard(() => showJobs(current.signal));
  }
  byId("main").focus();
}

async function whoAmI() {
  const me = await getJson("/users/me");
  byId("whoami").textContent = `Signed in as ${me.email}`;
}

async function submitSignIn(event) {
  event.preventDefault();
  const message = byId("sign-in-message");
  message.textContent = "";
  try {
    session.token = await signIn(byId("username").value, byId("password").value);
  } catch (error) {
    if (error instanceof Unreachable) message.textContent = "The API cannot be reached: try again.";
    else if (error instanceof ApiError) message.textContent = `Not signed in: ${describeDetail(error.detail)}.`;
    else throw error;
    return;
  }
  byId("password").value = "";
  announce("Signed in.");
  await guard(async () => {
    await whoAmI();
    await route();
  });
}

function signOut() {
  session.token = null;
  announce("");
  signInView("You signed out.");
}

onReachability((reachable) => {
  const banner = byId("banner");
  banner.hidden = reachable;
  banner.textContent = reachable
    ? ""
    : "The API cannot be reached (network error). Check your connection; live updates resume once it answers.";
});

onSessionExpired(expire);
byId("sign-in-form").addEventListener("submit", (event) => guard(() => submitSignIn(event)));
byId("sign-out").addEventListener("click", signOut);
// Routes are "#/..."; another fragment (the skip link's #main) only moves the focus.
window.addEventListener("hashchange", () => {
  if (location.hash === "" || location.hash.startsWith("#/")) guard(route);
});
setUpJobsView();
setUpJobView();

guard(async () => {
  if (session.token) await whoAmI();
  await route();
});
