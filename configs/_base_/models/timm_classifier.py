# A timm/visionssm classifier trained with mixup + cutmix and label smoothing (the DeiT/Swin recipe that the
# official VMamba-family and Vim training scripts use). A variant config sets only model_name (+ its drop path).
model = dict(
    type='visionssm.TimmClassifier',
    num_classes=1000,
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode='batch'),
    label_smoothing=0.1,
)
