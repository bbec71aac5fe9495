// Logging in and opening a fan account.
import { h, field } from "../dom.js";
import { navigate } from "../router.js";
import { logIn, registerFan } from "../session.js";
import { homeFor } from "../sections.js";
import { showError, showStatus } from "../status.js";
import { submitButton, whileBusy } from "../forms.js";

export function renderLogin(container, _params, onLoggedIn) {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "card narrow", "aria-labelledby": "login-title" },
    field("Email", email),
    field("Password", password),
    h("div", { class: "actions" }, submitButton("Log in")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const user = await whileBusy(form, () => logIn(email.value.trim(), password.value));
      onLoggedIn(user);
      navigate(homeFor(user), { text: `Welcome, ${user.display_name}.`, tone: "ok" });
    } catch (err) {
      // "Please log in" (the usual headline of a 401) would only repeat what the person just tried to do.
      if (err.kind === "Unauthorized") showStatus(`Log in refused: ${err.detail}.`, "error");
      else showError(err);
      password.focus();
      password.select();
    }
  });
  container.append(
    h("h1", { id: "login-title", text: "Log in" }),
    h("p", { class: "lede", text: "Remix stems and visuals from albums whose artists said yes." }),
    form,
    h("p", {}, "New here? ", h("a", { href: "#/register", text: "Open a fan account" }), "."),
  );
}

export function renderRegister(container) {
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const name = h("input", { type: "text", name: "display_name", autocomplete: "nickname", required: true, maxlength: 200 });
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", required: true, minlength: 10 });
  const form = h("form", { class: "card narrow", "aria-labelledby": "register-title" },
    field("Email", email),
    field("Display name", name),
    field("Password", password, "At least 10 characters."),
    h("div", { class: "actions" }, submitButton("Open fan account")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await whileBusy(form, () => registerFan(email.value.trim(), name.value.trim(), password.value));
      navigate("#/login", { text: "Your fan account is open. Log in to start remixing.", tone: "ok" });
    } catch (err) {
      showError(err);
    }
  });
  container.append(
    h("h1", { id: "register-title", text: "Open a fan account" }),
    form,
    h("p", {}, "Already have an account? ", h("a", { href: "#/login", text: "Log in" }), "."),
  );
}
