# UperNet on ADE20K 512x512 with a visionssm backbone, over mmseg's Swin config: what every segmentation recipe here
# shares. A recipe sets the backbone, the optimizer's lr / weight decay, the schedule and the batch size.
_base_ = [
    'mmseg::_base_/models/upernet_swin.py',
    './ade20k-512x512_checked.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
custom_imports = dict(imports=['visionssm.mm'], allow_failed_imports=False)

crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150),
)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='visionssm.TimmParamGroupsConstructor',
    optimizer=dict(type='AdamW', betas=(0.9, 0.999)),
)
default_hooks = dict(checkpoint=dict(save_best='mIoU', rule='greater'))
