"""The one service layer: every change any face makes (the CLI, the web pages, the API, the
scheduler) is one function here, and that function writes its audit row itself.

A face checks who is asking (the web checks roles; the CLI names its operating-system user),
turns its input into plain arguments, calls a function of this package and presents the result.
A service function validates everything first, makes the change through the capabilities
(``crawler``, ``replay``, ``chat_archiver``, ``archive.package``, ``scheduler.schedules``) and
records one audit row — ``ok``, or ``failed`` with the reason when it raised — through
:func:`bewaar.services.audit.change`, the only code that writes ``audit_log`` rows.

Modules, by what they change:

- ``sites``     sites (add, edit, remove or retire), categories, schedules, "run now"
- ``crawls``    crawls and their after-steps, replay collections and checks, seals, exports
- ``harvesting`` harvests: many sites crawled at once, each sealed as its crawl ends
- ``imports``   WARC and WACZ files made elsewhere, taken as runs of a site
- ``access``    replay exclusions and embargoes
- ``accounts``  users, passwords, roles, API tokens, browser sessions
- ``packages``  keys, selectielijst, package verification and download
- ``chats``     chat sources, Matrix exports and imports of export files
- ``search``    the full-text index: indexing after crawls and chat imports, reindex, removal
  by package; and the search itself (a read)
- ``records``   retention (valuation, end dates, re-valuation) and legal holds
- ``destruction`` destruction lists: propose, review, approve, cancel (four eyes)
- ``suggestions`` the archivist's metadata suggestions: enrich, accept (a new package version), reject
- ``disposal``  executing a list: destruction for real, tombstones, the verklaring van
  vernietiging
- ``transfer``  SIP exports for the e-Depot and their confirmation (the Overbrenging)
- ``woo``       Woo requests: gather by search (with holds), decide, redact
- ``woo_export`` a decided Woo request's export, sealed as one package
- ``preferences`` a user's own choices (the language of the web app)
- ``queries``, ``harvests``   what the faces read (no changes, no audit rows)
- ``audit``     the audit row writer and reader
"""
