"""What WhatsApp writes in an exported chat: date stamps, markers and system lines in Dutch and
English, as Android and iOS phones write them (see whatsapp.py for how they are read)."""

from __future__ import annotations

import re

MARKS = "\u200e\u200f\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_DATE = r"(?P<d1>\d{1,2})(?P<sep>[-/.])(?P<d2>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})"
_TIME = (r"(?P<h>\d{1,2})[:.](?P<mi>\d{2})(?:[:.](?P<s>\d{2}))?"
         r"(?:[ \u202f\u00a0]?(?P<ap>[AaPp]\.?[ \u202f\u00a0]?[Mm]\.?))?")
ANDROID = re.compile(rf"{_DATE},? {_TIME} [-–] (?P<rest>.*)")
IOS = re.compile(rf"\[{_DATE},? {_TIME}\] (?P<rest>.*)")

# The markers of each language: they tell the language of the phone and what a message is.
OMITTED = {
    "nl": re.compile(r"<Media weggelaten>|(?:.+ • .*)?(?:afbeelding|video|audio|sticker|GIF|"
                     r"document|[Cc]ontactkaart) weggelaten"),
    "en": re.compile(r"<Media omitted>|(?:.+ • .*)?(?:image|video|audio|sticker|GIF|document|"
                     r"[Cc]ontact card) omitted"),
}
ATTACHED = {
    "nl": re.compile(r"(?P<a>.+?) \(bestand bijgevoegd\)|<bijgevoegd: (?P<b>[^>]+)>"),
    "en": re.compile(r"(?P<a>.+?) \(file attached\)|<attached: (?P<b>[^>]+)>"),
}
DELETED = {
    "nl": re.compile(r"(?:Dit bericht is verwijderd|Je hebt dit bericht verwijderd)\.?"),
    "en": re.compile(r"(?:This message was deleted|You deleted this message)\.?"),
}
EDITED = {
    "nl": re.compile(r"[ \n]?[\u200e]?<Dit bericht is bewerkt>$"),
    "en": re.compile(r"[ \n]?[\u200e]?<This message was edited>$"),
}
SYSTEM = {
    "nl": re.compile("|".join([
        r"Berichten en gesprekken worden end-to-end versleuteld",
        r"Berichten (?:in|aan) deze (?:groep|chat) worden nu beveiligd",
        r".+ heeft (?:de )?groep .+ aangemaakt", r".+ heeft deze groep aangemaakt",
        r".+ heeft .+ toegevoegd", r".+ heeft .+ verwijderd", r".+ heeft de groep verlaten",
        r".+ is vertrokken", r".+ neemt deel via de uitnodigingslink.*",
        r".+ heeft de groepsnaam gewijzigd.*", r".+ heeft het onderwerp gewijzigd.*",
        r".+ heeft het groepspictogram (?:gewijzigd|verwijderd)",
        r".+ heeft de groepsbeschrijving gewijzigd",
        r"Je beveiligingscode met .+ is gewijzigd.*",
        r".+ heeft (?:zijn|haar|het) telefoonnummer gewijzigd.*", r"Je bent nu beheerder",
        r"Gemist(?:e)? (?:spraak|video)(?:oproep|gesprek).*",
        r".+ heeft verdwijnende berichten (?:ingeschakeld|uitgeschakeld).*",
        r"Je hebt .+ (?:geblokkeerd|gedeblokkeerd)\.?",
    ])),
    "en": re.compile("|".join([
        r"Messages and calls are end-to-end encrypted.*",
        r"Messages to this (?:group|chat) are now secured.*",
        r".+ created (?:group|this group).*", r".+ added .+", r".+ removed .+", r".+ left",
        r".+ joined using this group's invite link", r".+ changed the subject .+",
        r".+ changed (?:this group's|the group) (?:icon|description)",
        r".+ deleted this group's icon", r"Your security code with .+ changed.*",
        r".+ changed their phone number.*", r"You're now an admin",
        r"Missed (?:voice|video) call.*", r".+ turned (?:on|off) disappearing messages.*",
        r"You (?:blocked|unblocked) this contact\.?",
    ])),
}
# Markers of languages this reader does not know: their exports are refused, not misread.
FOREIGN = re.compile("|".join([
    r"<Medien ausgeschlossen>", r"\(Datei angehängt\)", r"<Anhang: ", r"Nachricht wurde gelöscht",
    r"Ende-zu-Ende-verschlüsselt", r"<Médias omis>", r"\(fichier joint\)",
    r"<pièce jointe\s?: ", r"message a été supprimé", r"chiffrés de bout en bout",
    r"<Multimedia omitido>", r"\(archivo adjunto\)", r"<adjunto: ", r"Se eliminó este mensaje",
    r"cifrados de extremo a extremo", r"<Media omessi>", r"<allegato: ",
    r"messaggio è stato eliminato", r"<Arquivo de mídia oculto>", r"<anexado: ",
    r"Mensagem apagada", r"<Медиа отсутствуют>", r"<Medya dahil edilmedi>",
]))
# Literal markers that tell the phone's language (counted, so reading the language is fast).
SIGNALS = {
    "nl": ("<Media weggelaten>", "(bestand bijgevoegd)", "<bijgevoegd: ",
           "Dit bericht is verwijderd", "Je hebt dit bericht verwijderd",
           "<Dit bericht is bewerkt>", "end-to-end versleuteld", " weggelaten",
           " toegevoegd", "Gemiste "),
    "en": ("<Media omitted>", "(file attached)", "<attached: ", "This message was deleted",
           "You deleted this message", "<This message was edited>", "end-to-end encrypted",
           " omitted", "Missed voice call", "Missed video call"),
}
EDIT_SIGNALS = {"nl": "<Dit bericht is bewerkt>", "en": "<This message was edited>"}
# A message can only be a marker when it holds one of these (a quick test before the markers).
MAYBE_MARKER = re.compile(r"[<(]|weggelaten|omitted|verwijderd|deleted")
CHAT_NAME = re.compile(r"WhatsApp[ -][Cc]hat(?: with| met| -)? (?P<name>.+?)(?: \(\d+\))?$")
MEDIA_TYPES = {
    "m.image": {"jpg", "jpeg", "png", "webp", "gif", "heic", "bmp"},
    "m.video": {"mp4", "3gp", "mov", "mkv", "avi"},
    "m.audio": {"opus", "ogg", "m4a", "mp3", "aac", "amr", "wav"},
}
OMITTED_TYPE = {"afbeelding": "m.image", "image": "m.image", "video": "m.video",
                "audio": "m.audio", "sticker": "m.image", "GIF": "m.video"}
CUT_WITH_MEDIA = 10_000
CUT_WITHOUT_MEDIA = 40_000


def clean(text: str) -> str:
    """Text without the direction marks WhatsApp puts around names, numbers and markers."""
    return text.strip(MARKS + " ")


def media_type(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    for msgtype, exts in MEDIA_TYPES.items():
        if ext in exts:
            return msgtype
    return "m.file"
