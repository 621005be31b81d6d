"""JavaScript the walkthrough's steps evaluate in the page."""

# innerText of an element and of the shadow roots under it.
DEEP_TEXT = """e => {
  const out = [];
  const walk = n => {
    if (n.nodeType === Node.TEXT_NODE) { const t = n.textContent.trim(); if (t) out.push(t); return; }
    if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.childNodes) walk(c);
  };
  walk(e);
  return out.join(" | ");
}"""
