"""A corpus of hostile HTML mail: every way an HTML message can make a mail client fetch something.

``corpus(base, canary)`` returns name -> raw message. ``base`` is a loopback HTTP server
(``http://127.0.0.1:PORT``) that counts requests; ``canary`` is a directory of files (``secret.png``,
``style.css``, ``page.html``) that must never be opened. Each message references them in one way: remote
images, srcset, CSS ``url()``/``@import``, background attributes, meta refresh, frames, objects, SVG,
``file://`` and UNC paths, unmatched ``cid:``, ``javascript:`` links, forms, base href, media posters,
scripts and event handlers, obfuscated URLs. Sources: the usual e-mail tracking and "EFAIL"/remote-content
cheat sheets (e.g. https://www.emailprivacytester.com tests, OWASP XSS filter evasion).
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

#: A valid 1x1 PNG: if anything ever reads the canary, Qt would be able to show it.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def make_canary(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "secret.png").write_bytes(PNG)
    (directory / "style.css").write_text("body { background: url(secret.png) }")
    (directory / "page.html").write_text("<p>local page</p><img src='secret.png'>")
    return directory


def _cases(b: str, c: str) -> dict[str, str]:
    """name -> HTML body. ``b``: http base; ``c``: canary directory as a path (no scheme)."""
    f = f"file://{c}"
    host = b.split("//", 1)[1]
    return {
        "img-src-http": f'<img src="{b}/img.png" width=1 height=1>',
        "img-src-https": f'<img src="{b.replace("http:", "https:")}/img-https.png">',
        "img-srcset": f'<img srcset="{b}/srcset-1x.png 1x, {b}/srcset-2x.png 2x" alt="x">',
        "picture-source-srcset": f'<picture><source srcset="{b}/picture.webp" type="image/webp"><img alt="p"></picture>',
        "style-attr-background-url": f'<div style="background-image: url({b}/style-attr.png)">x</div>',
        "style-attr-list-style-image": f'<ul style="list-style-image: url(\'{b}/list.png\')"><li>x</li></ul>',
        "style-tag-url": f"<style>body {{ background: url({b}/style-tag.png) }}</style><p>x</p>",
        "style-import-url": f"<style>@import url({b}/import.css);</style><p>x</p>",
        "style-import-string": f'<style>@import "{b}/import-string.css";</style><p>x</p>',
        "style-font-face": f"<style>@font-face {{ font-family: t; src: url({b}/font.woff) }} p {{ font-family: t }}</style><p>x</p>",
        "style-behavior-expression": f"<p style=\"behavior: url({b}/x.htc); width: expression(fetch('{b}/expr'))\">x</p>",
        "link-stylesheet": f'<link rel="stylesheet" href="{b}/link.css"><p>x</p>',
        "link-prefetch-preload": f'<link rel="prefetch" href="{b}/prefetch"><link rel="preload" href="{b}/preload" as="image"><link rel="dns-prefetch" href="{b}/dns">',
        "body-background-attr": f'<body background="{b}/body-bg.png"><p>x</p></body>',
        "table-background-attr": f'<table background="{b}/table-bg.png"><tr><td background="{b}/td-bg.png">x</td></tr></table>',
        "meta-refresh": f'<meta http-equiv="refresh" content="0; url={b}/refresh"><p>x</p>',
        "iframe-src": f'<iframe src="{b}/iframe.html" width=10 height=10></iframe>',
        "iframe-srcdoc": f"<iframe srcdoc=\"<img src='{b}/srcdoc.png'>\"></iframe>",
        "frameset-frame": f'<frameset><frame src="{b}/frame.html"></frameset>',
        "object-data": f'<object data="{b}/object.swf" type="application/x-shockwave-flash"></object>',
        "object-html-file": f'<object type="text/html" data="{f}/page.html"></object>',
        "embed-src": f'<embed src="{b}/embed.swf">',
        "applet": f'<applet code="X.class" codebase="{b}/applet/"></applet>',
        "img-src-file-url": f'<img src="{f}/secret.png">',
        "img-src-file-no-slashes": f'<img src="file:{c}/secret.png">',
        "img-src-plain-path": f'<img src="{c}/secret.png">',
        "a-href-file-url": f'<a href="{f}/page.html">open me</a>',
        "img-unc-path": f'<img src="\\\\{host.split(":")[0]}\\share\\secret.png">',
        "img-protocol-relative": f'<img src="//{host}/protocol-relative.png">',
        "img-unmatched-cid": '<img src="cid:not-in-this-message@x">',
        "base-href-http-relative-img": f'<base href="{b}/base/"><img src="relative.png"><a href="rel.html">r</a>',
        "base-href-file-relative-img": f'<base href="{f}/"><img src="secret.png">',
        "javascript-link": '<a href="javascript:fetch(\'/js-link\')">click</a><a href="JaVaScRiPt:alert(1)">x</a>',
        "script-tag": f"<script>new Image().src='{b}/script.png'; fetch('{b}/fetch');</script><p>x</p>",
        "script-src": f'<script src="{b}/script.js"></script><p>x</p>',
        "img-onerror": f"<img src=x onerror=\"this.src='{b}/onerror.png'\">",
        "body-onload": f"<body onload=\"location='{b}/onload'\"><p>x</p></body>",
        "form-action": f'<form action="{b}/form" method="post"><input name=q value=1><input type="submit"></form>',
        "input-type-image": f'<input type="image" src="{b}/input-image.png">',
        "svg-image-href": f'<svg xmlns:xlink="http://www.w3.org/1999/xlink"><image href="{b}/svg-image.png"/><image xlink:href="{b}/svg-xlink.png"/></svg>',
        "svg-use-external": f'<svg><use href="{b}/sprite.svg#a"/></svg>',
        "svg-foreign-object": f'<svg><foreignObject><img src="{b}/svg-fo.png"></foreignObject></svg>',
        "img-src-svg-data-uri": f"<img src=\"data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'><image href='{b}/data-svg.png'/></svg>\">",
        "video-poster-src": f'<video poster="{b}/poster.png" src="{b}/video.mp4"><source src="{b}/source.mp4"><track src="{b}/track.vtt"></video>',
        "audio-src": f'<audio src="{b}/audio.mp3" autoplay></audio>',
        "bgsound-dynsrc-lowsrc": f'<bgsound src="{b}/bgsound.wav"><img dynsrc="{b}/dynsrc.avi" lowsrc="{b}/lowsrc.png">',
        "vml-imagedata": f'<!--[if gte vml 1]><v:rect><v:imagedata src="{b}/vml.png"/></v:rect><![endif]--><v:imagedata src="{b}/vml2.png"/>',
        "html-manifest": f'<html manifest="{b}/cache.manifest"><body><p>x</p></body></html>',
        "a-ping": f'<a href="https://example.org/" ping="{b}/ping">link</a>',
        "img-longdesc-usemap": f'<img src="cid:nothing" longdesc="{b}/longdesc"><map><area href="{b}/area" shape=rect coords=0,0,1,1></map>',
        "entity-obfuscated-url": f'<img src="&#104;&#116;&#116;&#112;:{b[5:]}/entities.png">',
        "whitespace-uppercase-scheme": f'<img src="  HTTP:{b[5:]}/upper.png  ">',
        "xml-stylesheet-pi": f'<?xml-stylesheet href="{b}/pi.xsl"?><p>x</p>',
        "noscript-img": f'<noscript><img src="{b}/noscript.png"></noscript><p>x</p>',
        "font-face-in-attribute-style": f'<p style="font-family: x; src: url({b}/attr-font.woff)">x</p>',
        "qrc-and-unknown-schemes": '<img src="qrc:/icons/app.svg"><img src="smb://127.0.0.1/share/x.png"><img src="ftp://127.0.0.1/x.png">',
    }


def corpus(base: str, canary: Path) -> dict[str, bytes]:
    """Each case as a complete message: multipart/alternative with a harmless plain part, or HTML only."""
    messages = {}
    for i, (name, body) in enumerate(sorted(_cases(base, str(canary)).items())):
        msg = EmailMessage()
        msg["From"] = "Tracker <news@tracker.test>"
        msg["To"] = "support@example.test"
        msg["Subject"] = f"Hostile HTML: {name}"
        msg["Message-ID"] = f"<hostile-{i}@tracker.test>"
        html = body if "<html" in body else f"<html><body><p>Visible text {name}</p>{body}</body></html>"
        if i % 2:
            msg.set_content(f"Plain alternative for {name}\n")
            msg.add_alternative(html, subtype="html")
        else:
            msg.set_content(html, subtype="html")
        messages[name] = msg.as_bytes()
    return messages
