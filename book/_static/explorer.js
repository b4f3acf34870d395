/* dlmath's web book: an explorer's figure follows its controls.
 *
 * Each explorer (div.dlmath-explorer) carries the figures drawn for a grid of positions of
 * its controls when the book was built (script.dlmath-explorer-frames: "keys" maps a
 * position, the controls' indices joined by commas, to one of "frames", base64 PNGs). A
 * control with data-axis="j" gives the j-th index: a range input its value, a select its
 * selected index, a checkbox 0 or 1; a control held at its stored value has no data-axis
 * and counts 0. Moving a control shows the frame of the new position. No kernel, no
 * request: everything is in the page.
 */
(function () {
  "use strict";

  function index(el) {
    if (el.type === "checkbox") return el.checked ? 1 : 0;
    if (el.tagName === "SELECT") return el.selectedIndex;
    return Number(el.value);
  }

  function setUp(root) {
    var script = root.querySelector("script.dlmath-explorer-frames");
    var img = root.querySelector("img.dlmath-explorer-figure");
    if (!script || !img) return;
    var data = JSON.parse(script.textContent);
    var controls = [];
    root.querySelectorAll("[data-axis]").forEach(function (el) {
      controls[Number(el.getAttribute("data-axis"))] = el;
    });

    function update() {
      var key = [];
      for (var j = 0; j < data.axes; j++) key.push(controls[j] ? index(controls[j]) : 0);
      key = key.join(",");
      controls.forEach(function (el) {
        var labels = el && el.getAttribute("data-labels");
        var out = labels && el.parentElement.querySelector("output");
        if (out) out.textContent = JSON.parse(labels)[index(el)];
      });
      var frame = data.keys[key];
      if (frame === undefined) return;  // not on the grid: keep the last figure
      img.src = "data:image/png;base64," + data.frames[frame];
      img.setAttribute("data-key", key);
    }

    controls.forEach(function (el) {
      if (!el) return;
      el.addEventListener("input", update);
      el.addEventListener("change", update);
    });
    update();
  }

  function start() {
    document.querySelectorAll("div.dlmath-explorer").forEach(setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
