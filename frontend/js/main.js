// Start-up: find out who is logged in, draw the header, and register every page.
import { h, replaceChildren } from "./dom.js";
import { navigate, route, startRouter } from "./router.js";
import { sectionsFor } from "./sections.js";
import { currentUser, loadSession, logOut } from "./session.js";
import { clearStatus, showError } from "./status.js";
import { renderAudit } from "./views/audit.js";
import { renderAlbum, renderAlbumList, renderTrack } from "./views/catalog.js";
import { renderConsoleAlbum } from "./views/console-album.js";
import { renderConsole } from "./views/console.js";
import { renderLogin, renderRegister } from "./views/login.js";
import { renderFinance } from "./views/finance.js";
import { renderPurchases } from "./views/purchases.js";
import { mountStudio } from "./views/studio.js";

let activeSection = null;

function drawHeader() {
  const user = currentUser();
  const nav = document.getElementById("nav");
  replaceChildren(nav, h("ul", {}, sectionsFor(user).map((s) => h("li", {},
    h("a", { href: s.href, text: s.label, "aria-current": s.key === activeSection ? "page" : null })))));
  const account = document.getElementById("account");
  if (!user) {
    replaceChildren(account, h("a", { href: "#/login", text: "Log in" }), h("a", { href: "#/register", text: "Sign up" }));
    return;
  }
  const logout = h("button", { type: "button", class: "secondary small", text: "Log out" });
  logout.addEventListener("click", async () => {
    try {
      await logOut();
    } catch (err) {
      showError(err);
    }
    drawHeader();
    navigate("#/login", { text: "You are logged out.", tone: "ok" });
  });
  replaceChildren(account,
    h("span", { class: "who" }, h("span", { class: "who-name", text: user.display_name }), h("span", { class: "role", text: user.role })),
    logout);
}

function sessionLost() {
  loadSession().finally(() => {
    drawHeader();
    if (!currentUser()) navigate("#/login", { text: "Your session has ended. Please log in again.", tone: "error" });
  });
}

route("/login", null, (c, p) => renderLogin(c, p, drawHeader));
route("/register", null, renderRegister);
for (const mode of ["studio", "catalog"]) {
  route(`/${mode}`, mode, (c) => renderAlbumList(c, mode));
  route(`/${mode}/albums/:id`, mode, (c, p) => renderAlbum(c, mode, p.id));
  route(`/${mode}/tracks/:id`, mode, (c, p) => renderTrack(c, mode, p.id, mode === "studio" ? mountStudio : null));
}
route("/console", "console", renderConsole);
route("/console/albums/:id", "console", (c, p) => renderConsoleAlbum(c, p.id));
route("/audit", "audit", renderAudit);
route("/purchases", "purchases", renderPurchases);
route("/finance", "finance", renderFinance);

// The skip link must not change the hash (that is the router's), so it moves focus itself.
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("main").focus();
});

document.querySelector(".status-bar .dismiss").addEventListener("click", () => {
  clearStatus();
  document.getElementById("main").focus();
});

async function start() {
  try {
    await loadSession();
  } catch (err) {
    showError(err);
  }
  drawHeader();
  startRouter((section) => {
    activeSection = section;
    drawHeader();
  }, sessionLost);
}

start();
