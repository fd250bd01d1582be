"""HTML mail made safe to display: nh3 removes scripts, styles, forms, frames and every remote or local
reference. Only ``cid:`` images (parts of the message itself) survive; remote images are counted so
the view can offer "load once"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import nh3

SAFE_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col", "colgroup", "dd", "del", "div",
    "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "li", "ol", "p",
    "pre", "q", "s", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot",
    "th", "thead", "tr", "tt", "u", "ul",
}  # fmt: skip
SAFE_ATTRIBUTES = {
    "*": {"align", "valign", "dir", "lang", "title"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "font": {"color", "face", "size"},
    "td": {"colspan", "rowspan", "width", "bgcolor"},
    "th": {"colspan", "rowspan", "width", "bgcolor"},
    "table": {"width", "border", "cellpadding", "cellspacing", "bgcolor"},
    "ol": {"start", "type"},
}
LINK_SCHEMES = ("http:", "https:", "mailto:")
_IMG_WITHOUT_SRC = re.compile(r"<img(?![^>]*\bsrc=)[^>]*>")


@dataclass
class SanitizedHtml:
    html: str
    remote_images: list[str] = field(default_factory=list)
    cid_refs: list[str] = field(default_factory=list)


def sanitize_html(html: str, *, allow_remote_images: bool = False) -> SanitizedHtml:
    result = SanitizedHtml("")

    def keep(tag: str, attr: str, value: str) -> str | None:
        v = value.strip()
        low = v.lower()
        if tag == "img" and attr == "src":
            if low.startswith("cid:"):
                result.cid_refs.append(v[4:])
                return v
            if low.startswith(("http:", "https:")):
                result.remote_images.append(v)
                return v if allow_remote_images else None
            return None  # file:, data:, \\host\share, relative paths: never
        if tag == "a" and attr == "href":
            return v if low.startswith(LINK_SCHEMES) else None
        return value

    result.html = nh3.clean(
        html,
        tags=SAFE_TAGS,
        clean_content_tags={
            "script", "style", "title", "head", "iframe", "object", "embed", "svg", "math", "template", "noscript",
            "noembed", "noframes", "xmp",
        },
        attributes=SAFE_ATTRIBUTES,
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    # An <img> whose source was refused is dropped whole: an empty src makes Qt try to open "".
    result.html = _IMG_WITHOUT_SRC.sub("", result.html)
    return result
