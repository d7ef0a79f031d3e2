"""The web pages: big screen, inbox, projects and problems, modeler, operations.

Everything a page loads comes from this folder or from an allowlisted folder of an installed npm
package (``/vendor/...``); nothing from a CDN, no web fonts, no map tiles, because the city's intranet
has no internet. The gateway's app factory looks for ``mount(app)`` here and calls it once.
"""

from gateway.web.routes import install_web

mount = install_web

__all__ = ["install_web", "mount"]
