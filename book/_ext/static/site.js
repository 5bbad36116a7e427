/* Behaviour for the GAN course book (added by book/_ext/reader_site.py).

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

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
