// The console's access token. It comes in the address the user opened (?token=..., printed by `mldeploy ui`), is
// dropped from the address bar at once and kept in the browser's storage for the console's origin (no other port
// or site can read it; a new tab of the console finds it there), and goes with every request the page makes, in
// the Authorization header. There is no cookie: browsers send a host's cookies to every port of it, scoring
// services included. A console started again makes a new token: the one kept is then worth nothing.
// Loaded first, in <head>: the token leaves the address bar before anything else runs.
"use strict";

const TOKEN_KEY = "mldeploy-console-token";

function consoleToken() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

function withToken(address) {
  const url = new URL(address, location.href);
  url.searchParams.set("token", consoleToken());
  return url.href;
}

(function keepTheToken() {
  const address = new URL(location.href);
  const given = address.searchParams.get("token");
  if (given !== null) {
    address.searchParams.delete("token");
    history.replaceState(history.state, "", address.href);
  }
  if (document.documentElement.dataset.access !== "refused") {
    if (given) localStorage.setItem(TOKEN_KEY, given);
    return;
  }
  // Refused: opened without the token (a reload, a new tab, a bookmark), or with one this console does not take.
  const kept = consoleToken();
  if (!kept) return;
  if (given === kept) {
    localStorage.removeItem(TOKEN_KEY);  // kept from a console that was started again since: worth nothing now
    return;
  }
  location.replace(withToken(location.href));
})();

document.addEventListener("htmx:configRequest", (event) => {
  event.detail.headers.Authorization = "token " + consoleToken();
});
document.addEventListener("htmx:historyCacheMiss", (event) => {
  event.detail.xhr.setRequestHeader("Authorization", "token " + consoleToken());
});
