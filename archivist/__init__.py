"""The digital archivist: metadata suggestions computed on this machine, which a person accepts
or rejects. Nothing here changes the database or a package: ``bewaar.services.suggestions``
stores what :func:`archivist.enrich.analyse` proposes and applies what a person accepted.

Modules: ``text`` (a package's text: web pages from its WARCs, chat messages), ``language``,
``keywords``, ``personal`` (personal data with spans: redaction candidates), ``entities``
(persons, organisations, locations: frog, else deduce), ``summary``, ``category`` (a
selectielijst category, scikit-learn), ``models`` (which optional models are installed) and
``enrich`` (all of them over one package's text). Every model loads inside the function that
uses it; a missing one is named in the result and the rest goes on.
"""
