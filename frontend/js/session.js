// Who is logged in. The token itself stays in the HttpOnly cookie; script only knows the account.
import { getJson, postJson } from "./api.js";

let currentAccount = null;

/** The logged-in account ({id, email, display_name, role, artist_ids}) or null. */
export function currentUser() {
  return currentAccount;
}

/** Ask the server who we are (GET /api/auth/me); null when not logged in. */
export async function loadSession() {
  try {
    currentAccount = await getJson("/api/auth/me");
  } catch (err) {
    if (err.status !== 401) throw err;
    currentAccount = null;
  }
  return currentAccount;
}

export async function logIn(email, password) {
  const answer = await postJson("/api/auth/login", { email, password });
  currentAccount = answer.user;
  return currentAccount;
}

export async function logOut() {
  try {
    await postJson("/api/auth/logout");
  } finally {
    currentAccount = null;
  }
}

/** Open a fan account (POST /api/auth/register); the new fan still logs in afterwards. */
export function registerFan(email, displayName, password) {
  return postJson("/api/auth/register", { email, display_name: displayName, password });
}
