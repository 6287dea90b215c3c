# The demo prompter with this plugin's Conv3dTransformer as its video
# backbone: a one-part change, nothing in alpro/ touched (and the demo's
# learning-rate multipliers for TimeSformer's temporal parameters dropped:
# this backbone has none, and a key that matches nothing is refused).
#   python tools/train.py \
#       plugins/alpro-example-plugin/configs/demo_prompter_conv3d.py
_base_ = ['../../../configs/demo/pretrain_prompter.py']

custom_imports = dict(
    imports=['alpro_example_plugin'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='Conv3dTransformer',
        img_size=64,
        patch_size=16,
        num_frames=4))
optim_wrapper = dict(paramwise_cfg=None)
