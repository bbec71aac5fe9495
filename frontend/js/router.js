// Hash routes (#/studio/albums/3): no server round trip, and the back button works.
import { clearStatus, showError, showStatus } from "./status.js";
import { currentUser } from "./session.js";
import { homeFor, mayOpen } from "./sections.js";

const routes = [];
let pendingMessage = null;
let onNavigate = () => {};
let onSessionLost = () => {};

/**
 * Register a view. `pattern` is a path like "/studio/albums/:id"; `section` is null for public pages
 * (login, sign-up) or a key from sections.js; `render(container, params)` fills a fresh container.
 */
export function route(pattern, section, render) {
  const names = [];
  const source = pattern.replace(/:(\w+)/g, (_, name) => {
    names.push(name);
    return "([^/]+)";
  });
  routes.push({ regex: new RegExp(`^${source}$`), names, section, render });
}

/** Go to `hash`, then show `message` (if any) in the status area once the page is drawn. */
export function navigate(hash, message = null) {
  pendingMessage = message;
  if (window.location.hash === hash) render();
  else window.location.hash = hash;
}

function match(path) {
  for (const r of routes) {
    const m = r.regex.exec(path);
    if (m) return { route: r, params: Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1])])) };
  }
  return null;
}

async function render() {
  const user = currentUser();
  const path = window.location.hash.replace(/^#/, "") || "/";
  const found = match(path);
  if (!found || (found.route.section && !mayOpen(user, found.route.section))) {
    // Unknown page, or one this role may not open: go home (or to the login page).
    const home = homeFor(user);
    if (window.location.hash !== home) {
      window.location.replace(home);
      return;
    }
  }
  if (found && found.route.section === null && user) {
    window.location.replace(homeFor(user));
    return;
  }
  const message = pendingMessage;
  pendingMessage = null;
  clearStatus();
  onNavigate(found ? found.route.section : null);
  const main = document.getElementById("main");
  const container = document.createElement("div");
  container.className = "view";
  main.replaceChildren(container);
  if (message) showStatus(message.text, message.tone);
  if (!found) {
    container.append(Object.assign(document.createElement("h1"), { textContent: "Page not found" }));
    return;
  }
  try {
    await found.route.render(container, found.params);
  } catch (err) {
    showError(err);
    if (err.status === 401) onSessionLost();
  }
  // Move focus to the new page's heading so keyboard and screen-reader users start at the top — unless
  // they already moved into the page while its slower parts were still loading.
  const heading = container.querySelector("h1");
  if (heading && main.contains(heading) && !container.contains(document.activeElement)) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

/**
 * Start listening. `navigated(sectionKey)` is called on each page change (to mark the nav);
 * `sessionLost()` when a page finds the session has ended (expired, or logged out elsewhere).
 */
export function startRouter(navigated, sessionLost) {
  onNavigate = navigated;
  onSessionLost = sessionLost;
  window.addEventListener("hashchange", render);
  render();
}
