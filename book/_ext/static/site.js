/* Behaviour for the GAN course book (added by book/_ext/reader_site.py).

   Inline formulas cannot break across lines (MathJax 3 has no line breaking); one wider
   than its line gets the class wide-inline, which lets it scroll in its own box (site.css)
   instead of being cut off at the edge of the column on a phone.

   Animation frames are files in _images/ (book/_ext/offline_site.py moves them out of the
   HTML), and the player shows only its first frame at load. When a player comes near the
   screen, every frame of it is fetched, so that it plays smoothly; a reader who never
   scrolls to it never downloads it. */
(function () {
  "use strict";

  function preload(img) {
    var script = img.closest(".cell_output");
    if (!script || img.dataset.framesLoaded) return;
    img.dataset.framesLoaded = "1";
    var text = script.innerHTML;
    var re = /frames\[\d+\]\s*=\s*"([^"]+)"/g;
    var m;
    while ((m = re.exec(text)) !== null) {
      var frame = new Image();
      frame.src = m[1];
    }
  }

  function init() {
    var players = document.querySelectorAll("img[id^='_anim_img']");
    if (!players.length) return;
    if (!("IntersectionObserver" in window)) {
      players.forEach(preload);
      return;
    }
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) {
          preload(entry.target);
          observer.unobserve(entry.target);
        }
      });
    }, { rootMargin: "400px 0px" });
    players.forEach(function (img) { observer.observe(img); });
  }

  function markWideInlineMath() {
    document.querySelectorAll('mjx-container:not([display="true"])').forEach(function (el) {
      el.classList.remove("wide-inline");
      var box = el.parentElement;
      while (box && getComputedStyle(box).display.indexOf("inline") === 0) box = box.parentElement;
      if (!box) return;
      var limit = box.getBoundingClientRect().right;
      if (el.getBoundingClientRect().right > limit + 1) el.classList.add("wide-inline");
    });
  }

  function initMath() {
    if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return false;
    MathJax.startup.promise.then(markWideInlineMath);
    var timer = null;
    var later = function () {
      clearTimeout(timer);
      timer = setTimeout(markWideInlineMath, 150);
    };
    window.addEventListener("resize", later);
    // formulas in a fold are measured when it opens (hidden ones have no size)
    document.addEventListener("click", function (event) {
      if (event.target.closest(".toggle-button, .admonition-title, summary")) later();
    });
    document.addEventListener("toggle", later, true);
    return true;
  }

  function start() {
    init();
    if (!initMath()) {
      // MathJax loads with `defer` after this script: wait for its startup object
      var tries = 0;
      var poll = setInterval(function () {
        if (initMath() || ++tries > 100) clearInterval(poll);
      }, 100);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
