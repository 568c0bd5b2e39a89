// nova-conformance docs site: on spec chapter pages, link each requirement to its row in the
// traceability matrix (spec/traceability.html#m-<ID>), which lists the cases and vectors for it.
(function () {
  'use strict';
  var path = window.location.pathname;
  if (!/\/spec\/[0-9]{2}-[a-z0-9-]+\.html$/.test(path)) return;
  var anchors = document.querySelectorAll('.tsd-typography li > a[id] + strong');
  for (var i = 0; i < anchors.length; i++) {
    var strong = anchors[i];
    var id = strong.previousElementSibling.id;
    if (!/^[A-Z]{2,5}-[1-9][0-9]*$/.test(id) || strong.textContent !== id) continue;
    var link = document.createElement('a');
    link.className = 'nc-trace';
    link.href = 'traceability.html#m-' + id;
    link.title = 'Cases and vectors for ' + id;
    link.textContent = 'cases';
    strong.parentNode.appendChild(link);
  }
})();
