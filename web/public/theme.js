// Set the theme before the first paint, so a dark console never flashes white. A file, not an
// inline script: the Content-Security-Policy allows this server's own scripts only.
(function () {
  var choice = localStorage.getItem("crontopus.theme");
  var dark = choice === "dark" || (choice !== "light" && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
})();
