"""Recordings on the exercise's change page: upload, replace, play or delete one per pronunciation item and accent.

Each row chooses one of the exercise's pronunciation items (shown with its text) and an accent; the
file is checked on upload (tutor.audio_files) and the row is saved through the model, so the item's
`audio` list in the content follows it (tutor.recordings).
"""

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from tutor.audio_files import ALLOWED, AUDIO_FORMATS
from tutor.models import ONE_PER_ACCENT, Recording
from tutor.recordings import pronunciation_items


class RecordingForm(forms.ModelForm):
    class Meta:
        model = Recording
        fields = ("item_id", "accent", "file")
        widgets = {"file": forms.ClearableFileInput(attrs={"accept": ",".join(["audio/*", *AUDIO_FORMATS])})}
        help_texts = {"file": f"{ALLOWED}."}


class RecordingFormSet(forms.BaseInlineFormSet):
    def get_unique_error_message(self, unique_check) -> str:
        return ONE_PER_ACCENT


class RecordingInline(admin.TabularInline):
    model = Recording
    form = RecordingForm
    formset = RecordingFormSet
    fields = ("item_id", "accent", "file", "player", "uploaded_at")
    readonly_fields = ("player", "uploaded_at")
    verbose_name = "recording"
    verbose_name_plural = "Recordings (one per pronunciation item and accent: GB General British, GA General American)"

    def get_extra(self, request, obj=None, **kwargs) -> int:
        return 1 if obj is not None and pronunciation_items(obj.content) else 0

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # The item's menu lists this exercise's pronunciation items; any other id reaches Recording.clean,
        # which says why it is refused.
        choices = [("", "---------"), *pronunciation_items(obj.content if obj is not None else None)]
        formset.form.base_fields["item_id"].widget = forms.Select(choices=choices)
        return formset

    @admin.display(description="Listen")
    def player(self, recording: Recording) -> str:
        if not recording.pk or not recording.file:
            return "-"
        return format_html(
            '<audio controls preload="none" src="{}" id="recording-player-{}-{}"></audio>',
            recording.file.url,
            recording.item_id,
            recording.accent,
        )


class RecordingsMixin:
    """Add the recordings to an exercise's change page (an exercise being added has no items to record yet)."""

    def get_inlines(self, request, obj):
        return [*super().get_inlines(request, obj), *([RecordingInline] if obj is not None else [])]
