"""What the HTTP front ends share: the API (``reportcard.api``) and the Reports page
(``reportcard.web``) sit side by side above this package and neither imports the other.

Here: the request's services and the user behind a token (:mod:`.deps`), Canvas-style error
bodies (:mod:`.errors`), request and start limits (:mod:`.limits`), starting a run and the
root account's zone (:mod:`.start`), Canvas's JSON objects (:mod:`.serializers`,
:mod:`.sis_imports`), the spreadsheet transform of UI downloads (:mod:`.spreadsheet`) and the
client-visible base URL (:mod:`.urls`).
"""
