// tomo admin: the only script. Pages work without it; it adds a confirmation
// before forms marked data-confirm (e.g. rolling back a persona version).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
