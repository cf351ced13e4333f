/* The exercise's admin page: switch the content form with the exercise type, and keep the preview in step.
 *
 * The content editor is django-jsonform's (reactJsonForm); the schemas of every type, the content as the
 * page was loaded and a blank content per type come from the page (json_script). The preview is drawn by
 * the server, from the form's current values, a moment after each change.
 */
(function () {
  "use strict";

  var CONTAINER_ID = "id_content_jsonform";
  var schemas = JSON.parse(document.getElementById("exercise-content-schemas").textContent);
  var loaded = JSON.parse(document.getElementById("exercise-content-loaded").textContent);
  var blanks = JSON.parse(document.getElementById("exercise-content-blanks").textContent);
  var panel = document.getElementById("exercise-preview-panel");
  var typeSelect = document.getElementById("id_exercise_type");
  var contentInput = document.getElementById("id_content");
  var instructionsInput = document.getElementById("id_instructions");
  var drafts = {};
  var timer = null;

  function editor() {
    return window.reactJsonForm && window.reactJsonForm.getFormInstance(CONTAINER_ID);
  }

  function refreshPreview() {
    var body = new FormData();
    body.append("exercise_type", typeSelect.value);
    body.append("instructions", instructionsInput ? instructionsInput.value : "");
    body.append("content", contentInput.value);
    body.append("csrfmiddlewaretoken", document.querySelector("input[name=csrfmiddlewaretoken]").value);
    fetch(panel.dataset.previewUrl, {method: "POST", body: body, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html !== null) {
          panel.innerHTML = html;
          panel.dataset.updated = String(Date.now());
        }
      });
  }

  function previewSoon() {
    clearTimeout(timer);
    timer = setTimeout(refreshPreview, 300);
  }

  function switchType() {
    var form = editor();
    var previous = panel.dataset.exerciseType;
    var next = typeSelect.value;
    if (!form || !schemas[next] || previous === next) return;
    drafts[previous] = form.getData();
    var data = drafts[next] || (next === loaded.exercise_type && loaded.content) || blanks[next];
    panel.dataset.exerciseType = next;
    form.update({schema: schemas[next], data: data, errorMap: {}});
    previewSoon();
  }

  function start() {
    var form = editor();
    if (!form) {
      setTimeout(start, 50);
      return;
    }
    panel.dataset.exerciseType = typeSelect.value;
    form.addEventListener("change", previewSoon);
    typeSelect.addEventListener("change", switchType);
    if (instructionsInput) instructionsInput.addEventListener("input", previewSoon);
  }

  start();
})();
