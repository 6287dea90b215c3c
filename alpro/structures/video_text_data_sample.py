"""The data sample that travels with one video-text pair."""
from mmengine.structures import BaseDataElement


class VideoTextDataSample(BaseDataElement):
    """One video (or image-as-video) and its text.

    Meta information (set once, read-only afterwards), as the pipeline fills
    it: ``sample_idx`` (int), ``video_id`` (str), ``video_path`` (str),
    ``frame_inds`` (list of int), ``img_shape`` ((H, W) after processing),
    ``replaced`` (list of str: paths of bad samples this one stands in for).

    Data fields: ``text`` (str), and task labels that later stages add
    (e.g. ``answer_label``).
    """
