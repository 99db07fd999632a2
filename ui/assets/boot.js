// Says so when the app's modules did not start (an old browser, a failed
// download), instead of leaving a blank page. A classic script: it runs
// where modules do not.
window.addEventListener("load", function () {
  setTimeout(function () {
    if (window.sopStarted) return;
    var m = document.getElementById("boot-message");
    if (m) {
      m.className = "error";
      m.textContent = "The sop Web UI did not start: this browser may not support JavaScript modules, or a file failed to load. Reload the page, or use a current browser.";
    }
  }, 3000);
});
