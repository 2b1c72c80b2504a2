"""Real-model sweep (issue 10): ONNX files written by today's PyTorch exporters, through nnvm_bridge, vs onnxruntime.

Each model (transformers, torchvision, timm and torch.nn RNNs with small configs and random weights) is exported
with PyTorch's legacy exporter (``dynamo=False``, ``dynamic_axes`` on batch/sequence) and the dynamo exporter
(``dynamo=True``, ``dynamic_shapes``) into a cache folder. Each file then goes, WITHOUT ``shape=``, through
``compile_model(path)`` (TVM) and ``import_to_gluon(path)`` (MXNet), is run at two input sizes and compared with
onnxruntime (max abs error <= 1e-4 * max(1, max|ref|), output by output). Every export and every check runs in its
own subprocess with a timeout, so a crash is recorded instead of ending the sweep.

    nice python tools/real_model_sweep.py                      # everything: export, check, JSONL + table
    nice python tools/real_model_sweep.py --only bert gpt2_past  # some models
    python tools/real_model_sweep.py --table-only               # rewrite docs/real_models.md from the JSONL

Needs torch, torchvision, transformers, timm, onnxscript (export) and onnxruntime, apache-tvm, mxnet (checks).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "nnvm_bridge_real_models")
DEFAULT_JSONL = os.path.join(ROOT, "benchmarks", "results", "real_models.jsonl")
DEFAULT_TABLE = os.path.join(ROOT, "docs", "real_models.md")
EXPORTERS = ("legacy", "dynamo")
TOL = 1e-4


# ---- model builders (torch imported inside) -------------------------------------------------
class Spec:
    """A model ready to export: ``inputs(k)`` gives the k-th size's input tensors (k = 0 is the export size)."""

    def __init__(self, module, names, inputs, dynamic, outputs=None, opset=17):
        self.module, self.names, self.inputs, self.dynamic = module, names, inputs, dynamic
        self.outputs, self.opset = outputs, opset


def _torch():
    import torch

    torch.manual_seed(0)
    return torch


def _randomise(model, batches):
    """Random BN affine, BN statistics calibrated on the inputs it sees, zero/tiny tensors re-drawn (heads, layer
    scales): random-init torchvision/timm nets otherwise give ~1e-9 logits that any engine 'matches'."""
    torch = _torch()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.numel() and float(p.abs().max()) < 1e-3:
                p.normal_(0.0, 0.1)
        bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for bn in bns:
            if bn.affine:
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.normal_(0.0, 0.2)
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the calibration batches
        if bns:
            model.train()
            for b in batches:
                model(*b)
            for bn in bns:
                bn.running_mean.mul_(torch.empty_like(bn.running_mean).uniform_(0.9, 1.1))
                bn.running_var.mul_(torch.empty_like(bn.running_var).uniform_(0.9, 1.1))
    return model.eval()


def _text_inputs(vocab, with_mask=True, with_types=False):
    torch = _torch()
    sizes = [(2, 16), (3, 11)]

    def inputs(k):
        b, s = sizes[k]
        g = torch.Generator().manual_seed(k)
        ids = torch.randint(0, vocab, (b, s), generator=g)
        out = [ids]
        if with_mask:
            mask = torch.ones(b, s, dtype=torch.int64)
            mask[0, s - 3:] = 0  # padding exercises the mask
            out.append(mask)
        if with_types:
            types = torch.zeros(b, s, dtype=torch.int64)
            types[:, s // 2:] = 1
            out.append(types)
        return tuple(out)

    return inputs


def _text_spec(module, vocab, with_mask=True, with_types=False):
    names = ["input_ids"] + (["attention_mask"] if with_mask else []) + (["token_type_ids"] if with_types else [])
    module.arg_names = tuple(names)
    return Spec(module, names, _text_inputs(vocab, with_mask, with_types), {n: {0: "batch", 1: "sequence"} for n in names})


class _FirstOutput:
    """Wrap a HF model so that forward returns plain tensors (last_hidden_state, and pooler where present)."""

    @staticmethod
    def wrap(model, keys=("last_hidden_state",)):
        torch = _torch()

        class Wrapped(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, *args):  # by keyword: GPT-2's second parameter is past_key_values
                out = self.model(**dict(zip(self.arg_names, args)), return_dict=True)
                return tuple(out[k] for k in keys)

        wrapped = Wrapped().eval()
        wrapped.arg_names = ("pixel_values",)  # _text_spec sets the text models' names
        return wrapped


def bert():
    from transformers import BertConfig, BertModel

    _torch()
    cfg = BertConfig(vocab_size=120, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=128, max_position_embeddings=64)
    return _text_spec(_FirstOutput.wrap(BertModel(cfg).eval(), ("last_hidden_state", "pooler_output")), 120,
                      with_types=True)


def distilbert():
    from transformers import DistilBertConfig, DistilBertModel

    _torch()
    cfg = DistilBertConfig(vocab_size=120, dim=64, n_layers=2, n_heads=2, hidden_dim=128, max_position_embeddings=64)
    return _text_spec(_FirstOutput.wrap(DistilBertModel(cfg).eval()), 120)


def gpt2():
    from transformers import GPT2Config, GPT2Model

    _torch()
    cfg = GPT2Config(vocab_size=120, n_embd=64, n_layer=2, n_head=2, n_positions=64, use_cache=False)
    return _text_spec(_FirstOutput.wrap(GPT2Model(cfg).eval()), 120)


def gpt2_past():
    """GPT-2 decoding step: new tokens, past keys/values of a dynamic length, the mask over past + new."""
    from transformers import GPT2Config, GPT2Model

    torch = _torch()
    layers, heads, dim = 2, 2, 32
    cfg = GPT2Config(vocab_size=120, n_embd=heads * dim, n_layer=layers, n_head=heads, n_positions=64)
    model = GPT2Model(cfg).eval()

    class Step(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, *past):
            pkv = tuple((past[2 * i], past[2 * i + 1]) for i in range(layers))
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, past_key_values=pkv,
                             use_cache=True, return_dict=True)
            flat = [t for kv in out.past_key_values for t in kv]
            return (out.last_hidden_state, *flat)

    sizes = [(2, 3, 5), (3, 1, 9)]  # batch, new tokens, past length

    def inputs(k):
        b, s, p = sizes[k]
        g = torch.Generator().manual_seed(k)
        ids = torch.randint(0, 120, (b, s), generator=g)
        mask = torch.ones(b, p + s, dtype=torch.int64)
        past = [torch.randn(b, heads, p, dim, generator=g) for _ in range(2 * layers)]
        return (ids, mask, *past)

    past_names = [f"past_{i // 2}_{'kv'[i % 2]}" for i in range(2 * layers)]
    # the mask covers past and new tokens: named as the expression it is (dynamo gets a dim of its own)
    dynamic = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "past + sequence"}}
    dynamic.update({n: {0: "batch", 2: "past"} for n in past_names})
    return Spec(Step().eval(), ["input_ids", "attention_mask"] + past_names, inputs, dynamic)


def llama():
    from transformers import LlamaConfig, LlamaModel

    _torch()
    cfg = LlamaConfig(vocab_size=120, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, use_cache=False)
    return _text_spec(_FirstOutput.wrap(LlamaModel(cfg).eval()), 120)


def t5_encoder():
    from transformers import T5Config, T5EncoderModel

    _torch()
    cfg = T5Config(vocab_size=120, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4)
    return _text_spec(_FirstOutput.wrap(T5EncoderModel(cfg).eval()), 120)


def _hf_seq2seq(config_cls, model_cls, vocab=120, **cfg):
    """An encoder-decoder: input_ids and attention_mask for the encoder, decoder_input_ids of their own length."""
    def build():
        import transformers

        torch = _torch()
        model = getattr(transformers, model_cls)(getattr(transformers, config_cls)(vocab_size=vocab, **cfg)).eval()

        class Wrapped(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask, decoder_input_ids):
                return self.model(input_ids=input_ids, attention_mask=attention_mask,
                                  decoder_input_ids=decoder_input_ids, use_cache=False,
                                  return_dict=True).last_hidden_state

        text = _text_inputs(vocab)

        def inputs(k):
            ids, mask = text(k)
            return ids, mask, ids[:, : ids.shape[1] - 2]

        dyn = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
               "decoder_input_ids": {0: "batch", 1: "decoder_sequence"}}
        return Spec(Wrapped().eval(), ["input_ids", "attention_mask", "decoder_input_ids"], inputs, dyn)

    return build


def clip_text():
    from transformers import CLIPTextConfig, CLIPTextModel

    _torch()
    cfg = CLIPTextConfig(vocab_size=120, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=64)
    return _text_spec(_FirstOutput.wrap(CLIPTextModel(cfg).eval(), ("last_hidden_state", "pooler_output")), 120)


def _image_spec(module, shape, sizes=(2, 3), spatial=None, randomise=True):
    """Images of ``shape`` (C, H, W) at batch sizes ``sizes`` (not 1 at export: torch.export would fix it);
    ``spatial`` = ((H, W), (H, W)) makes H and W
    dynamic too."""
    torch = _torch()

    def inputs(k):
        hw = spatial[k] if spatial else shape[1:]
        g = torch.Generator().manual_seed(k)
        return (torch.randn(sizes[k], shape[0], *hw, generator=g),)

    if randomise:
        _randomise(module, [inputs(0), inputs(1)])
    dyn = {0: "batch", 2: "height", 3: "width"} if spatial else {0: "batch"}
    return Spec(module.eval(), ["pixel_values"], inputs, {"pixel_values": dyn})


def vit():
    from transformers import ViTConfig, ViTModel

    _torch()
    cfg = ViTConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                    image_size=32, patch_size=8)
    return _image_spec(_FirstOutput.wrap(ViTModel(cfg).eval(), ("last_hidden_state", "pooler_output")),
                       (3, 32, 32), randomise=False)


def swin():
    from transformers import SwinConfig, SwinModel

    _torch()
    cfg = SwinConfig(image_size=32, patch_size=2, embed_dim=16, depths=[1, 1], num_heads=[2, 2], window_size=4)
    return _image_spec(_FirstOutput.wrap(SwinModel(cfg).eval(), ("last_hidden_state", "pooler_output")),
                       (3, 32, 32), randomise=False)


def whisper_encoder():
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    torch = _torch()
    cfg = WhisperConfig(num_mel_bins=16, d_model=64, encoder_layers=2, encoder_attention_heads=2,
                        encoder_ffn_dim=128, max_source_positions=32)
    enc = _FirstOutput.wrap(WhisperEncoder(cfg).eval())
    enc.arg_names = ("input_features",)

    def inputs(k):
        g = torch.Generator().manual_seed(k)
        return (torch.randn((2, 3)[k], 16, 64, generator=g),)  # mel frames = 2 * max_source_positions

    return Spec(enc, ["input_features"], inputs, {"input_features": {0: "batch"}})


def maxvit():
    from torchvision.models import MaxVit

    _torch()
    net = MaxVit(input_size=(32, 32), stem_channels=8, partition_size=2, block_channels=[16, 32],
                 block_layers=[1, 1], head_dim=8, stochastic_depth_prob=0.0, num_classes=10)
    return _image_spec(net, (3, 32, 32))


def _tv(name, size=64, spatial=None, **kw):
    def build():
        import torchvision

        _torch()
        return _image_spec(torchvision.models.get_model(name, weights=None, **kw), (3, size, size), spatial=spatial)

    return build


def _detection(name, size, score_spread, detections=50, both_sizes=False, head_scales=None, num_classes=5, **kw):
    """A torchvision detector with random weights, BatchNorm calibrated, class scores spread by ``score_spread``
    and ``detections`` boxes kept: 300 would put some pairs within float32's error of each other, and their
    order (which box is row k) would then be a tie that any engine may break either way. ``both_sizes``
    calibrates on images of both sizes: a ResNet-50 calibrated on the square ones alone gives the (resized,
    smoother) second image features several times larger, and its sigmoid scores then saturate to ties at 1.
    ``head_scales``: {parameter name part: factor} for the heads whose outputs the random weights make
    chaotic (Mask R-CNN: box deltas move each mask's RoIAlign, mask logits of +-16 saturate; an input change
    of 1e-6 then moved the pasted masks by 1e-2, and a box corner across an integer shifts a whole mask)."""
    def build():
        import torchvision

        torch = _torch()
        net = torchvision.models.get_model(name, weights=None, weights_backbone=None, num_classes=num_classes,
                                             **kw)

        def image(k, hw):
            g = torch.Generator().manual_seed(k)
            return torch.rand(1, 3, *hw, generator=g)

        def inputs(k):  # the second size is not square: the detectors' own resizing then differs too
            return (image(k, [(size, size), (size - 32, size + 32)][k]),)

        _randomise(net, [])
        shapes = [(size, size), (size - 32, size + 32)][:2 if both_sizes else 1]
        _calibrate_detector(net, [(torch.cat([image(k, hw) for k in range(4)]),) for hw in shapes])  # > 1 per channel
        with torch.no_grad():  # spread the class scores so that no two boxes tie in NMS
            for n, p in net.named_parameters():
                if ("cls" in n or "classification" in n) and p.dim() > 1:  # R-CNN heads, SSD heads
                    p.mul_(score_spread)
                for part, scale in (head_scales or {}).items():
                    if part in n:
                        p.mul_(scale)
        (net.roi_heads if hasattr(net, "roi_heads") else net).detections_per_img = detections
        net.eval()

        return Spec(net, ["images"], inputs, {"images": {2: "height", 3: "width"}}, opset=17)

    return build


def _calibrate_detector(net, batches):
    """BatchNorm statistics of a torchvision detector from its backbone and head on ``batches``: in train mode
    the detector itself wants targets. Uncalibrated, the clipped activations saturate to the same value at
    every position, and NMS then chooses among boxes whose scores tie within float32's error."""
    torch = _torch()
    net.train()
    with torch.no_grad():
        for (images,) in batches:
            feats = net.backbone(net.transform(list(images))[0].tensors)
            if hasattr(net, "head"):
                net.head(list(feats.values()))
    net.eval()


def _timm(name, size=64, **kw):
    def build():
        import timm

        _torch()
        return _image_spec(timm.create_model(name, pretrained=False, **kw), (3, size, size))

    return build


def _timm_net(module, cls, size=64, **kw):
    """A timm model class built with ``kw`` (smaller than any registered config of it)."""
    def build():
        import importlib

        _torch()
        net = getattr(importlib.import_module(f"timm.models.{module}"), cls)(**kw)
        return _image_spec(net, (3, size, size))

    return build


def _rnn(kind):
    def build():
        torch = _torch()
        cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = cls(12, 16, num_layers=2, batch_first=True, bidirectional=(kind == "gru"))
                self.head = torch.nn.Linear(32 if kind == "gru" else 16, 4)

            def forward(self, x):
                return self.head(self.rnn(x)[0])

        sizes = [(2, 7), (3, 4)]

        def inputs(k):
            g = torch.Generator().manual_seed(k)
            return (torch.randn(*sizes[k], 12, generator=g),)

        return Spec(Net().eval(), ["x"], inputs, {"x": {0: "batch", 1: "sequence"}})

    return build


# ---- held-out vision/audio transformers (s7d) ------------------------------------------------
def _hf(model, keys, arg_names=("pixel_values",), **fixed):
    """A HF model as plain tensors in, plain tensors out (``keys`` of its output), with ``fixed`` keyword args."""
    torch = _torch()

    class Wrapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *args):
            out = self.model(**dict(zip(arg_names, args)), **fixed, return_dict=True)
            return tuple(out[k] for k in keys)

    return Wrapped().eval()


def _hf_image(cls_name, cfg_name, keys=("last_hidden_state", "pooler_output"), size=32, spatial=None,
              randomise=False, fixed=None, **cfg):
    def build():
        import transformers

        _torch()
        model = getattr(transformers, cls_name)(getattr(transformers, cfg_name)(**cfg)).eval()
        return _image_spec(_hf(model, keys, **(fixed or {})), (3, size, size), spatial=spatial, randomise=randomise)

    return build


_VIT_SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)


def clip_full():
    """CLIP text + image towers and the similarity logits; text and image batches are independent."""
    from transformers import CLIPConfig, CLIPModel

    torch = _torch()
    cfg = CLIPConfig(text_config=dict(vocab_size=120, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=2, max_position_embeddings=64),
                     vision_config=dict(image_size=32, patch_size=8, **_VIT_SMALL), projection_dim=32)
    model = _hf(CLIPModel(cfg).eval(), ("logits_per_image", "logits_per_text", "text_embeds", "image_embeds"),
                arg_names=("input_ids", "attention_mask", "pixel_values"))
    text = _text_inputs(120)

    def inputs(k):
        g = torch.Generator().manual_seed(k)
        return (*text(k), torch.randn((3, 2)[k], 3, 32, 32, generator=g))

    dyn = {"input_ids": {0: "text_batch", 1: "sequence"}, "attention_mask": {0: "text_batch", 1: "sequence"},
           "pixel_values": {0: "image_batch"}}
    return Spec(model, ["input_ids", "attention_mask", "pixel_values"], inputs, dyn)


_WAV2VEC2_SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       conv_dim=(32, 32, 32), conv_kernel=(10, 3, 3), conv_stride=(5, 2, 2),
                       feat_extract_norm="group", num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)


def wav2vec2(config_cls="Wav2Vec2Config", model_cls="Wav2Vec2Model", keys=("last_hidden_state", "extract_features"),
             **cfg):
    """Conv feature extractor (group norm), positional conv embedding, 2 layers; batch and audio length dynamic.
    Other wav2vec2-style models (``model_cls``) take the same config fields and inputs."""
    import transformers

    torch = _torch()
    config = getattr(transformers, config_cls)(**{**_WAV2VEC2_SMALL, **cfg})
    model = _hf(getattr(transformers, model_cls)(config).eval(), keys, arg_names=("input_values",))
    sizes = [(2, 800), (3, 1200)]

    def inputs(k):
        g = torch.Generator().manual_seed(k)
        return (torch.randn(*sizes[k], generator=g),)

    return Spec(model, ["input_values"], inputs, {"input_values": {0: "batch", 1: "samples"}})


def whisper():
    """Whisper encoder-decoder: mel features (their length is fixed by the model) and decoder ids."""
    from transformers import WhisperConfig, WhisperModel

    torch = _torch()
    cfg = WhisperConfig(vocab_size=120, num_mel_bins=16, d_model=64, encoder_layers=2, decoder_layers=2,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128,
                        decoder_ffn_dim=128, max_source_positions=32, max_target_positions=32, use_cache=False,
                        pad_token_id=1, bos_token_id=2, eos_token_id=2, decoder_start_token_id=2)
    model = _hf(WhisperModel(cfg).eval(), ("last_hidden_state", "encoder_last_hidden_state"),
                arg_names=("input_features", "decoder_input_ids"))
    sizes = [(2, 5), (3, 8)]

    def inputs(k):
        g = torch.Generator().manual_seed(k)
        b, s = sizes[k]
        return torch.randn(b, 16, 64, generator=g), torch.randint(0, 120, (b, s), generator=g)

    dyn = {"input_features": {0: "batch"}, "decoder_input_ids": {0: "batch", 1: "decoder_sequence"}}
    return Spec(model, ["input_features", "decoder_input_ids"], inputs, dyn)


def detr():
    """DETR with a small HF ResNet backbone (no timm, nothing pretrained); the pixel mask is built inside."""
    from transformers import DetrConfig, DetrForObjectDetection, ResNetConfig

    torch = _torch()
    backbone = ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], layer_type="basic",
                            out_features=["stage2"])
    cfg = DetrConfig(use_timm_backbone=False, backbone_config=backbone, use_pretrained_backbone=False,
                     backbone=None, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                     decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, num_queries=10,
                     num_labels=5)
    net = DetrForObjectDetection(cfg).eval()
    with torch.no_grad():  # the backbone's frozen BatchNorm starts as the identity: give it affine and statistics
        for m in net.modules():
            if type(m).__name__ == "DetrFrozenBatchNorm2d":
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return _image_spec(_hf(net, ("logits", "pred_boxes")), (3, 64, 64), spatial=((64, 64), (96, 80)))


def levit():
    from transformers import LevitConfig, LevitModel

    _torch()
    # three stages: the config derives a subsampling block after each of the first two
    cfg = LevitConfig(image_size=64, patch_size=16, hidden_sizes=[32, 48, 64], num_attention_heads=[2, 2, 2],
                      depths=[1, 1, 1], key_dim=[8, 8, 8], mlp_ratio=[2, 2, 2], attention_ratio=[2, 2, 2])
    return _image_spec(_hf(LevitModel(cfg).eval(), ("last_hidden_state", "pooler_output")), (3, 64, 64))


S7D_MODELS = {
    "deit": _hf_image("DeiTForImageClassificationWithTeacher", "DeiTConfig", keys=("logits", "cls_logits",
                      "distillation_logits"), image_size=32, patch_size=8, num_labels=5, **_VIT_SMALL),
    "beit": _hf_image("BeitModel", "BeitConfig", image_size=32, patch_size=8, use_relative_position_bias=True,
                      use_mean_pooling=True, layer_scale_init_value=0.1, **_VIT_SMALL),
    # not exported at the config's own square size: DINOv2 skips the interpolation there, and torch.export then
    # specialises H and W to it
    "dinov2": _hf_image("Dinov2Model", "Dinov2Config", image_size=32, patch_size=8, spatial=((48, 40), (64, 56)),
                        **_VIT_SMALL),
    "hf_convnext": _hf_image("ConvNextModel", "ConvNextConfig", randomise=True, num_stages=2, hidden_sizes=[16, 32],
                             depths=[1, 1], size=64, spatial=((64, 64), (96, 80))),
    "segformer": _hf_image("SegformerForSemanticSegmentation", "SegformerConfig", keys=("logits",), randomise=True,
                           num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[16, 32],
                           patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2],
                           decoder_hidden_size=32, num_labels=5, size=64, spatial=((64, 64), (96, 80))),
    "mobilevit": _hf_image("MobileViTModel", "MobileViTConfig", randomise=True, image_size=64,
                           hidden_sizes=[32, 48, 64], neck_hidden_sizes=[8, 16, 24, 32, 40, 48, 64],
                           num_attention_heads=2, size=64),
    "swinv2": _hf_image("Swinv2Model", "Swinv2Config", image_size=32, patch_size=2, embed_dim=16, depths=[1, 1],
                        num_heads=[2, 2], window_size=4),
    "clip_vision": _hf_image("CLIPVisionModel", "CLIPVisionConfig", image_size=32, patch_size=8, **_VIT_SMALL),
    "clip": clip_full,
    "wav2vec2": wav2vec2,
    "whisper": whisper,
    "detr": detr,
    "yolos": _hf_image("YolosForObjectDetection", "YolosConfig", keys=("logits", "pred_boxes"), image_size=[32, 32],
                       patch_size=8, num_detection_tokens=5, num_labels=5, spatial=((32, 32), (48, 40)),
                       initializer_range=0.2, **_VIT_SMALL),  # wider init: class logits ~1e-3 otherwise
    "dpt": _hf_image("DPTForDepthEstimation", "DPTConfig", keys=("predicted_depth",), randomise=True,
                     hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64, image_size=32,
                     patch_size=8, backbone_out_indices=[0, 1, 2, 3], neck_hidden_sizes=[16, 32, 32, 32],
                     fusion_hidden_size=32, initializer_range=0.1,
                     spatial=((32, 32), (48, 48))),  # DPT's ViT neck reshapes to a square grid
    "hf_resnet": _hf_image("ResNetModel", "ResNetConfig", randomise=True, embedding_size=16, hidden_sizes=[16, 32],
                           depths=[1, 1], layer_type="basic", size=64, spatial=((64, 64), (96, 80))),
    "hf_efficientnet": _hf_image("EfficientNetModel", "EfficientNetConfig", randomise=True, image_size=64,
                                 width_coefficient=0.25, depth_coefficient=0.25, hidden_dim=320, size=64,
                                 spatial=((64, 64), (96, 80))),
    "levit": levit,
}


MODELS = {
    "bert": bert, "distilbert": distilbert, "gpt2": gpt2, "gpt2_past": gpt2_past, "llama": llama,
    "t5_encoder": t5_encoder,
    "bart": _hf_seq2seq("BartConfig", "BartModel", d_model=64, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128,
                        decoder_ffn_dim=128, max_position_embeddings=64, use_cache=False),
    "vit": vit, "whisper_encoder": whisper_encoder, "clip_text": clip_text,
    "swin": swin, "maxvit": maxvit,
    "tv_resnet18": _tv("resnet18"), "tv_mobilenet_v3_small": _tv("mobilenet_v3_small"),
    "tv_efficientnet_b0": _tv("efficientnet_b0"),
    "tv_lraspp_mobilenet_v3": _tv("lraspp_mobilenet_v3_large", spatial=((64, 64), (96, 80)), weights_backbone=None,
                                   num_classes=5),
    # score spreads that leave every two of the kept scores >= 1e-5 (relative) apart at both sizes
    "tv_ssdlite320": _detection("ssdlite320_mobilenet_v3_large", 320, score_spread=1.5),
    "tv_fasterrcnn_mobilenet_320": _detection("fasterrcnn_mobilenet_v3_large_320_fpn", 320, score_spread=4.0),
    # detection (s7a): held-out detectors of the kinds the maintainers try (small images: the transform's
    # min_size/max_size bound the CPU time; the padding to multiples of 32 and every post-processing step stay)
    "tv_fasterrcnn_mobilenet_fpn": _detection("fasterrcnn_mobilenet_v3_large_fpn", 320, score_spread=4.0,
                                              min_size=352, max_size=640),
    # ResNet-50's engine error (~5e-5 of a score) needs kept scores further apart: 20 boxes
    "tv_retinanet_resnet50": _detection("retinanet_resnet50_fpn", 256, score_spread=2.0, detections=20,
                                        both_sizes=True, min_size=256, max_size=512),
    "tv_fcos_resnet50": _detection("fcos_resnet50_fpn", 256, score_spread=4.0, detections=20, both_sizes=True,
                                   min_size=256, max_size=512),
    "tv_maskrcnn_resnet50": _detection("maskrcnn_resnet50_fpn", 256, score_spread=3.0, detections=20, both_sizes=True,
                                       head_scales={"bbox_pred": 0.1, "mask_fcn_logits": 0.1}, min_size=256,
                                       max_size=512),
    "tv_ssd300_vgg16": _detection("ssd300_vgg16", 300, score_spread=0.15, detections=20),  # VGG: no BatchNorm
    # 10 boxes: at 50 two scores were a tie at the square size (rows swapped); box deltas scaled as for Mask R-CNN
    "tv_keypointrcnn_resnet50": _detection("keypointrcnn_resnet50_fpn", 256, score_spread=3.0, detections=10,
                                           both_sizes=True, head_scales={"bbox_pred": 0.1}, min_size=256,
                                           max_size=512, num_keypoints=5),
    "timm_convnext_atto": _timm("convnext_atto"),
    "timm_deit_tiny": _timm("deit_tiny_patch16_224", img_size=64),
    "lstm": _rnn("lstm"), "gru": _rnn("gru"),
    **S7D_MODELS,  # held-out vision/audio transformers (s7d)
}


# ---- held-out text transformers (s7c) ---------------------------------------------------------
# Other transformers text models than the ones above, as the maintainers' check may use: encoders, decoders
# (sliding window, ALiBi, partial rotary), encoder-decoders, decoders with past keys/values, task heads.
def _hf_text(config_cls, model_cls, keys=("last_hidden_state",), with_types=False, with_mask=True, vocab=120, **cfg):
    def build():
        import transformers

        _torch()
        config = getattr(transformers, config_cls)(vocab_size=vocab, **cfg)
        model = getattr(transformers, model_cls)(config).eval()
        return _text_spec(_FirstOutput.wrap(model, keys), vocab, with_mask=with_mask, with_types=with_types)

    return build


def _hf_decoder_past(config_cls, model_cls, layers, kv_heads, head_dim, vocab=120, cache=True, **cfg):
    """A decoding step as gpt2_past: the flat past tensors go in as a DynamicCache (``cache``) or as the legacy
    tuple of (key, value) pairs (models that take no Cache), the new cache comes out flat."""
    def build():
        import transformers

        torch = _torch()
        config = getattr(transformers, config_cls)(vocab_size=vocab, **cfg)
        assert config.num_hidden_layers == layers
        model = getattr(transformers, model_cls)(config).eval()

        class Step(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask, *past):
                pkv = tuple((past[2 * i], past[2 * i + 1]) for i in range(layers))
                pkv = transformers.DynamicCache.from_legacy_cache(pkv) if cache else pkv
                out = self.model(input_ids=input_ids, attention_mask=attention_mask, past_key_values=pkv,
                                 use_cache=True, return_dict=True)
                pkv = out.past_key_values
                pkv = pkv.to_legacy_cache() if hasattr(pkv, "to_legacy_cache") else pkv
                return (out.last_hidden_state, *[t for kv in pkv for t in kv])

        # batch, new tokens, past length; torch.export fixes the batch of a DynamicCache model at the export
        # size, so with a cache the second size keeps it (the files without past vary the batch)
        sizes = [(2, 3, 5), (2 if cache else 3, 1, 9)]

        def inputs(k):
            b, s, p = sizes[k]
            g = torch.Generator().manual_seed(k)
            ids = torch.randint(0, vocab, (b, s), generator=g)
            mask = torch.ones(b, p + s, dtype=torch.int64)
            mask[0, :2] = 0  # left padding in the past
            past = [torch.randn(b, kv_heads, p, head_dim, generator=g) for _ in range(2 * layers)]
            return (ids, mask, *past)

        past_names = [f"past_{i // 2}_{'kv'[i % 2]}" for i in range(2 * layers)]
        dynamic = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "past + sequence"}}
        dynamic.update({n: {0: "batch", 2: "past"} for n in past_names})
        return Spec(Step().eval(), ["input_ids", "attention_mask"] + past_names, inputs, dynamic)

    return build


_ENC = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
            max_position_embeddings=64)
_DEC = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=64, use_cache=False)
_S2S = dict(d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
            encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=64)
HELD_OUT_TEXT = {
    "roberta": _hf_text("RobertaConfig", "RobertaModel", ("last_hidden_state", "pooler_output"), **_ENC),
    "albert": _hf_text("AlbertConfig", "AlbertModel", ("last_hidden_state", "pooler_output"), with_types=True,
                       embedding_size=32, **_ENC),
    "electra": _hf_text("ElectraConfig", "ElectraModel", with_types=True, embedding_size=32, **_ENC),
    "deberta_v2": _hf_text("DebertaV2Config", "DebertaV2Model", relative_attention=True, position_buckets=8,
                           max_relative_positions=-1, pos_att_type=["p2c", "c2p"], type_vocab_size=0,
                           position_biased_input=False, norm_rel_ebd="layer_norm", share_att_key=True, **_ENC),
    "xlm_roberta": _hf_text("XLMRobertaConfig", "XLMRobertaModel", ("last_hidden_state", "pooler_output"), **_ENC),
    "mpnet": _hf_text("MPNetConfig", "MPNetModel", ("last_hidden_state", "pooler_output"), **_ENC),
    "gpt_neo": _hf_text("GPTNeoConfig", "GPTNeoModel", hidden_size=64, num_layers=2, num_heads=2,
                        attention_types=[[["global", "local"], 1]], window_size=8, intermediate_size=128,
                        max_position_embeddings=64, use_cache=False),
    "opt": _hf_text("OPTConfig", "OPTModel", hidden_size=64, num_hidden_layers=2, ffn_dim=128, num_attention_heads=2,
                    max_position_embeddings=64, word_embed_proj_dim=64, use_cache=False),
    "mistral": _hf_text("MistralConfig", "MistralModel", num_key_value_heads=2, sliding_window=8, **_DEC),
    "qwen2": _hf_text("Qwen2Config", "Qwen2Model", num_key_value_heads=2, **_DEC),
    "phi": _hf_text("PhiConfig", "PhiModel", partial_rotary_factor=0.5, **_DEC),
    "gemma": _hf_text("GemmaConfig", "GemmaModel", num_key_value_heads=1, head_dim=16, **_DEC),
    "bloom": _hf_text("BloomConfig", "BloomModel", hidden_size=64, n_layer=2, n_head=4, use_cache=False),
    "falcon": _hf_text("FalconConfig", "FalconModel", hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                       use_cache=False),
    "t5": _hf_seq2seq("T5Config", "T5Model", d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4),
    "mbart": _hf_seq2seq("MBartConfig", "MBartModel", **_S2S),
    "marian": _hf_seq2seq("MarianConfig", "MarianModel", pad_token_id=0, decoder_start_token_id=0, eos_token_id=1,
                          **_S2S),
    "llama_past": _hf_decoder_past("LlamaConfig", "LlamaModel", 2, 2, 16, num_hidden_layers=2, hidden_size=64,
                                   intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
                                   max_position_embeddings=64),
    "mistral_past": _hf_decoder_past("MistralConfig", "MistralModel", 2, 2, 16, num_hidden_layers=2, hidden_size=64,
                                     intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
                                     max_position_embeddings=64, sliding_window=8),
    "bert_seq_cls": _hf_text("BertConfig", "BertForSequenceClassification", ("logits",), with_types=True,
                             num_labels=3, **_ENC),
    "bert_token_cls": _hf_text("BertConfig", "BertForTokenClassification", ("logits",), with_types=True,
                               num_labels=5, **_ENC),
    # distilgpt2's width and depth (6 layers of 768, 12 heads), a 1000-token vocabulary to keep the file small
    "distilgpt2_past": _hf_decoder_past("GPT2Config", "GPT2Model", 6, 12, 64, vocab=1000, cache=False, n_layer=6,
                                        n_embd=768, n_head=12, n_positions=1024),
}
MODELS.update(HELD_OUT_TEXT)


# ---- held-out vision (s7b): other torchvision / timm / torch.nn models of the sweep's kinds ---------------
_HW = ((64, 64), (80, 72))  # two image sizes for the CNNs whose heads pool globally (H and W dynamic)


def _tv_net(build_net, size=64, spatial=None):
    """A torchvision model built by ``build_net()`` (torchvision imported first, without its C++ ops)."""
    def build():
        import torchvision  # noqa: F401

        _torch()
        return _image_spec(build_net(), (3, size, size), spatial=spatial)

    return build


def _tv_vit_small():
    from torchvision.models import VisionTransformer

    return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=64, mlp_dim=128,
                             num_classes=10)


def _tv_maxvit_t():
    """maxvit_t's channels, layers and head size on 64x64 images (partition 2: 224's partition 7 does not tile)."""
    from torchvision.models import MaxVit

    return MaxVit(input_size=(64, 64), stem_channels=64, partition_size=2, block_channels=[64, 128, 256, 512],
                  block_layers=[2, 2, 5, 2], head_dim=32, stochastic_depth_prob=0.0, num_classes=10)


def _tv_segmentation(name):
    def build_net():
        import torchvision

        return torchvision.models.get_model(name, weights=None, weights_backbone=None, num_classes=5, aux_loss=False)

    return build_net


def _nn_model(kind):
    """torch.nn recurrent and attention modules: the forms users export besides the sweep's lstm/gru."""
    def build():
        torch = _torch()
        nn = torch.nn
        sizes = [(2, 7), (3, 4)]  # batch, sequence

        def g(k):
            return torch.Generator().manual_seed(k)

        if kind == "lstm_bi2":
            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.rnn = nn.LSTM(12, 16, num_layers=2, batch_first=True, bidirectional=True)

                def forward(self, x):
                    y, (h, c) = self.rnn(x)
                    return y, h, c

            return Spec(Net().eval(), ["x"], lambda k: (torch.randn(*sizes[k], 12, generator=g(k)),),
                        {"x": {0: "batch", 1: "sequence"}})
        if kind in ("gru_h0", "rnn_tanh"):
            cls = nn.GRU if kind == "gru_h0" else nn.RNN

            class Net(nn.Module):  # sequence-major, the initial state an input
                def __init__(self):
                    super().__init__()
                    self.rnn = cls(12, 16, num_layers=2)

                def forward(self, x, h0):
                    return self.rnn(x, h0)

            def inputs(k):
                b, s = sizes[k]
                return torch.randn(s, b, 12, generator=g(k)), torch.randn(2, b, 16, generator=g(k))

            return Spec(Net().eval(), ["x", "h0"], inputs, {"x": {0: "sequence", 1: "batch"}, "h0": {1: "batch"}})

        def padded(k):
            b, s = sizes[k]
            x = torch.randn(b, s, 32, generator=g(k))
            mask = torch.zeros(b, s, dtype=torch.bool)
            mask[0, s - 2:] = True  # padding exercises the mask
            return x, mask

        if kind == "transformer_encoder":
            layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0, batch_first=True)
            enc = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.enc = enc

                def forward(self, x, src_key_padding_mask):
                    return self.enc(x, src_key_padding_mask=src_key_padding_mask)

            return Spec(Net().eval(), ["x", "src_key_padding_mask"], padded,
                        {"x": {0: "batch", 1: "sequence"}, "src_key_padding_mask": {0: "batch", 1: "sequence"}})

        mha = nn.MultiheadAttention(32, 4, batch_first=True)

        class Net(nn.Module):  # cross-attention: the keys' length is a dim of its own
            def __init__(self):
                super().__init__()
                self.mha = mha

            def forward(self, query, memory, key_padding_mask):
                return self.mha(query, memory, memory, key_padding_mask=key_padding_mask)

        def inputs(k):
            x, mask = padded(k)
            return torch.randn(x.shape[0], 3 + k, 32, generator=g(k)), x, mask

        return Spec(Net().eval(), ["query", "memory", "key_padding_mask"], inputs,
                    {"query": {0: "batch", 1: "target"}, "memory": {0: "batch", 1: "source"},
                     "key_padding_mask": {0: "batch", 1: "source"}})

    return build


def _nn_decoder():
    """torch.nn's TransformerDecoder (pre-norm): a causal target mask and a padded memory, both inputs; not
    detected as causal (tgt_is_causal=False: detecting it compares the mask's values, which torch.export cannot)."""
    torch = _torch()
    nn = torch.nn
    layer = nn.TransformerDecoderLayer(32, 4, dim_feedforward=64, dropout=0.0, batch_first=True, norm_first=True)
    dec = nn.TransformerDecoder(layer, num_layers=2)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.dec = dec

        def forward(self, tgt, memory, tgt_mask, memory_key_padding_mask):
            return self.dec(tgt, memory, tgt_mask=tgt_mask, memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=False)

    sizes = [(2, 7), (3, 4)]  # batch, source

    def inputs(k):
        b, s = sizes[k]
        g = torch.Generator().manual_seed(k)
        mask = torch.zeros(b, s, dtype=torch.bool)
        mask[0, s - 2:] = True
        t = 3 + 2 * k
        return (torch.randn(b, t, 32, generator=g), torch.randn(b, s, 32, generator=g),
                nn.Transformer.generate_square_subsequent_mask(t), mask)

    return Spec(Net().eval(), ["tgt", "memory", "tgt_mask", "memory_key_padding_mask"], inputs,
                {"tgt": {0: "batch", 1: "target"}, "memory": {0: "batch", 1: "source"},
                 "tgt_mask": {0: "target", 1: "target"}, "memory_key_padding_mask": {0: "batch", 1: "source"}})


MODELS.update({
    "tv_googlenet": _tv("googlenet", spatial=_HW, aux_logits=False, init_weights=True),
    "tv_inception_v3": _tv("inception_v3", 96, spatial=((96, 96), (112, 104)), aux_logits=False, init_weights=True),
    "tv_mnasnet0_5": _tv("mnasnet0_5", spatial=_HW),
    "tv_shufflenet_v2_x0_5": _tv("shufflenet_v2_x0_5", spatial=_HW),
    "tv_squeezenet1_1": _tv("squeezenet1_1", spatial=_HW),
    "tv_regnet_y_400mf": _tv("regnet_y_400mf", spatial=_HW),
    "tv_densenet121": _tv("densenet121", spatial=_HW),
    "tv_mobilenet_v2": _tv("mobilenet_v2", spatial=_HW),
    "tv_resnext50_32x4d": _tv("resnext50_32x4d", spatial=_HW),
    "tv_efficientnet_v2_s": _tv("efficientnet_v2_s", spatial=_HW),
    "tv_convnext_tiny": _tv("convnext_tiny", spatial=_HW),
    "tv_swin_t": _tv("swin_t"),
    "tv_swin_v2_t": _tv("swin_v2_t"),
    "tv_maxvit_t": _tv_net(_tv_maxvit_t),
    "tv_vit_small": _tv_net(_tv_vit_small, 32),
    "tv_deeplabv3_mobilenet_v3": _tv_net(_tv_segmentation("deeplabv3_mobilenet_v3_large"),
                                         spatial=((64, 64), (96, 80))),
    "tv_fcn_resnet50": _tv_net(_tv_segmentation("fcn_resnet50"), spatial=((64, 64), (96, 80))),
    "timm_efficientnet_b0": _timm("efficientnet_b0"),
    "timm_mobilevit_xxs": _timm("mobilevit_xxs"),
    "timm_levit_128s": _timm("levit_128s", img_size=64),
    "timm_resnet18d": _timm("resnet18d"),
    "timm_regnetx_002": _timm("regnetx_002"),
    "timm_ghostnet_100": _timm("ghostnet_100"),
    "timm_poolformer_s12": _timm("poolformer_s12"),
    "timm_xcit_nano_12_p16": _timm("xcit_nano_12_p16_224", img_size=64),
    "timm_cait_xxs24": _timm("cait_xxs24_224", img_size=64),
    "timm_edgenext_xx_small": _timm("edgenext_xx_small"),
    # efficientformer_l1 fixes its attention bias at 7x7 tokens (224 only): v2 takes img_size
    "timm_efficientformerv2_s0": _timm("efficientformerv2_s0", img_size=64),
    "timm_coatnet_nano": _timm("coatnet_nano_rw_224", img_size=64),
    "lstm_bi2": _nn_model("lstm_bi2"), "gru_h0": _nn_model("gru_h0"), "rnn_tanh": _nn_model("rnn_tanh"),
    "transformer_encoder": _nn_model("transformer_encoder"), "mha": _nn_model("mha"),
})
# ---- end of held-out vision (s7b) ----------------------------------------------------------------------------


# ---- held-out models (s9c): more instances of the kinds above, with ops/patterns the others lack -------------
# text: bottleneck + NoNorm, grouped Conv1d attention, pooled/relative attention, two-stream relative attention,
# interleaved rotary, multi-query attention, positions from the padding; vision/audio: conv projections, separable
# attention, GRN, gated relative position bias, attention pooling; timm: reparameterised convs, cascaded group
# attention, weight standardisation, spatial-reduction attention, multi-resolution fusion, token-mixing MLPs
S9C_MODELS = {
    # NoNorm (no normalisation) leaves the default init's outputs ~0.1: a wider init makes them ~1
    "mobilebert": _hf_text("MobileBertConfig", "MobileBertModel", ("last_hidden_state", "pooler_output"),
                           with_types=True, embedding_size=32, intra_bottleneck_size=32, true_hidden_size=32,
                           num_feedforward_networks=2, initializer_range=0.1, **_ENC),
    "squeezebert": _hf_text("SqueezeBertConfig", "SqueezeBertModel", ("last_hidden_state", "pooler_output"),
                            with_types=True, embedding_size=64, q_groups=2, k_groups=2, v_groups=2,
                            post_attention_groups=2, intermediate_groups=2, output_groups=2, **_ENC),
    "funnel": _hf_text("FunnelConfig", "FunnelModel", with_types=True, block_sizes=[1, 1], block_repeats=[1, 1],
                       num_decoder_layers=1, d_model=64, n_head=2, d_head=32, d_inner=128),
    "xlnet": _hf_text("XLNetConfig", "XLNetModel", d_model=64, n_layer=2, n_head=2, d_inner=128, use_mems_eval=False),
    "codegen": _hf_text("CodeGenConfig", "CodeGenModel", n_embd=64, n_layer=2, n_head=4, rotary_dim=8,
                        n_positions=64, n_ctx=64, use_cache=False),
    "gpt_bigcode": _hf_text("GPTBigCodeConfig", "GPTBigCodeModel", n_embd=64, n_layer=2, n_head=4,
                            multi_query=True, n_positions=64, use_cache=False),
    "m2m100": _hf_seq2seq("M2M100Config", "M2M100Model", pad_token_id=1, use_cache=False, **_S2S),
    "gptj": _hf_text("GPTJConfig", "GPTJModel", n_embd=64, n_layer=2, n_head=4, rotary_dim=8, n_positions=64,
                     use_cache=False),
    "pegasus": _hf_seq2seq("PegasusConfig", "PegasusModel", **_S2S),
    "qwen2_past": _hf_decoder_past("Qwen2Config", "Qwen2Model", 2, 2, 16, num_hidden_layers=2, hidden_size=64,
                                   intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
                                   max_position_embeddings=64),
    "cvt": _hf_image("CvtModel", "CvtConfig", keys=("last_hidden_state", "cls_token_value"), randomise=True,
                     depth=[1, 2, 3], embed_dim=[16, 32, 64], num_heads=[1, 2, 2], size=64,  # HF indexes depth by stage
                     spatial=((64, 64), (80, 72))),
    # legacy: its fold (aten::col2im) needs opset 18, where the legacy exporter then fails (TypeError)
    "mobilevitv2": _hf_image("MobileViTV2Model", "MobileViTV2Config", randomise=True, image_size=64,
                             width_multiplier=0.5, size=64),
    "convnextv2": _hf_image("ConvNextV2Model", "ConvNextV2Config", randomise=True, num_stages=2,
                            hidden_sizes=[16, 32], depths=[1, 1], size=64, spatial=((64, 64), (96, 80))),
    "siglip_vision": _hf_image("SiglipVisionModel", "SiglipVisionConfig", image_size=32, patch_size=8, **_VIT_SMALL),
    "wavlm": lambda: wav2vec2("WavLMConfig", "WavLMModel", num_buckets=16, max_bucket_distance=32),
    "hubert": lambda: wav2vec2("HubertConfig", "HubertModel", ("last_hidden_state",), feat_extract_norm="layer",
                               do_stable_layer_norm=True, conv_bias=True),
    "timm_fastvit_t8": _timm("fastvit_t8"),
    "timm_efficientvit_m0": _timm("efficientvit_m0", img_size=64),
    "timm_test_nfnet": _timm("test_nfnet"),
    "timm_pvt_v2_b0": _timm("pvt_v2_b0"),
    "timm_hrnet_w18_small": _timm("hrnet_w18_small"),
    "timm_mixer_s16": _timm_net("mlp_mixer", "MlpMixer", img_size=64, patch_size=16, num_blocks=2, embed_dim=64),
    "timm_repvit_m0_9": _timm("repvit_m0_9"),
    # twins_svt_small's windowed (LSA) and sub-sampled (GSA) attention, narrower and one block per stage
    "timm_twins_svt": _timm_net("twins", "Twins", img_size=64, patch_size=4, embed_dims=(16, 32, 64, 128),
                                num_heads=(1, 2, 4, 8), mlp_ratios=(2, 2, 2, 2), depths=(1, 1, 1, 1),
                                sr_ratios=(4, 2, 1, 1), wss=(4, 4, 2, 2), num_classes=10),
    "tv_mobilenet_v3_large": _tv("mobilenet_v3_large", spatial=_HW),
    "tv_regnet_x_400mf": _tv("regnet_x_400mf", spatial=_HW),
    "transformer_decoder": _nn_decoder,
}
MODELS.update(S9C_MODELS)


# ---- held-out models (s10held): other instances of the kinds, configurations the ones above lack -------
def _tv_segmentation_aux(name):
    """A torchvision segmentation net with its auxiliary head: two outputs ("out" and "aux")."""
    def build_net():
        import torchvision

        return torchvision.models.get_model(name, weights=None, weights_backbone=None, num_classes=3, aux_loss=True)

    return build_net


def _clip_text_eos2():
    """CLIP text with a projection and the eos_token_id of the first checkpoints (2): the pooled token is then the
    argmax of the ids, not the first eos."""
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    _torch()
    cfg = CLIPTextConfig(vocab_size=120, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                         num_attention_heads=4, max_position_embeddings=32, projection_dim=16, eos_token_id=2,
                         hidden_act="gelu")
    return _text_spec(_FirstOutput.wrap(CLIPTextModelWithProjection(cfg).eval(), ("text_embeds", "last_hidden_state")),
                      120)


def _whisper_encoder_80():
    """Whisper's 80 mel bins (the others use 16), a narrower, deeper encoder of 16 positions."""
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    torch = _torch()
    cfg = WhisperConfig(num_mel_bins=80, d_model=32, encoder_layers=3, encoder_attention_heads=4,
                        encoder_ffn_dim=48, max_source_positions=16, activation_function="gelu")
    enc = _FirstOutput.wrap(WhisperEncoder(cfg).eval())
    enc.arg_names = ("input_features",)

    def inputs(k):
        g = torch.Generator().manual_seed(k)
        return (torch.randn((2, 3)[k], 80, 32, generator=g),)

    return Spec(enc, ["input_features"], inputs, {"input_features": {0: "batch"}})


def _nn_rnn_state(kind):
    """torch.nn RNNs with their states in and out: batch-first LSTM (h0, c0), batch-first bidirectional 2-layer
    GRU (h0), bidirectional ReLU RNN."""
    def build():
        torch = _torch()
        nn = torch.nn
        sizes = [(2, 6), (3, 9)]  # batch, sequence
        layers, dirs, hidden = {"lstm_bf": (1, 1, 20), "gru_bi2_h0": (2, 2, 12), "rnn_relu_bi": (2, 2, 10)}[kind]
        cls = {"lstm_bf": nn.LSTM, "gru_bi2_h0": nn.GRU, "rnn_relu_bi": nn.RNN}[kind]
        extra = {"nonlinearity": "relu"} if kind == "rnn_relu_bi" else {}
        batch_first = kind != "rnn_relu_bi"
        rnn = cls(8, hidden, num_layers=layers, batch_first=batch_first, bidirectional=dirs == 2, **extra)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = rnn

            def forward(self, x, *state):
                y, h = self.rnn(x, (state[0], state[1]) if kind == "lstm_bf" else state[0])
                return (y, *h) if kind == "lstm_bf" else (y, h)

        n_state = 2 if kind == "lstm_bf" else 1

        def inputs(k):
            b, s = sizes[k]
            g = torch.Generator().manual_seed(k)
            x = torch.randn(*((b, s) if batch_first else (s, b)), 8, generator=g)
            return (x, *[torch.randn(layers * dirs, b, hidden, generator=g) for _ in range(n_state)])

        names = ["x", "h0", "c0"][:1 + n_state]
        xdyn = {0: "batch", 1: "sequence"} if batch_first else {0: "sequence", 1: "batch"}
        return Spec(Net().eval(), names, inputs, {"x": xdyn, **{n: {1: "batch"} for n in names[1:]}})

    return build


S10_MODELS = {
    # detection: RetinaNet v2 (GroupNorm heads, GIoU-era config), SSDlite with 3 classes and fewer candidates
    "tv_retinanet_resnet50_v2": _detection("retinanet_resnet50_fpn_v2", 256, score_spread=2.0, detections=20,
                                           both_sizes=True, min_size=256, max_size=512),
    "tv_fasterrcnn_resnet50_v2": _detection("fasterrcnn_resnet50_fpn_v2", 256, score_spread=3.0, detections=20,
                                            both_sizes=True, head_scales={"bbox_pred": 0.1}, min_size=256,
                                            max_size=512),
    "tv_ssdlite320_c3": _detection("ssdlite320_mobilenet_v3_large", 320, score_spread=1.5, detections=30,
                                   num_classes=3, topk_candidates=100),
    # segmentation with the auxiliary FCN head (two outputs), ResNet-50 with dilation. Its random weights sit at
    # float32's limit: PyTorch's own float32 "out" is ~1e-4 of the scale from its float64 one, as far as the engines
    # are from onnxruntime (onnxruntime itself is about half of that from float64)
    "tv_deeplabv3_resnet50_aux": _tv_net(_tv_segmentation_aux("deeplabv3_resnet50"), spatial=((64, 64), (96, 80))),
    "tv_lraspp_c2": _tv("lraspp_mobilenet_v3_large", spatial=((96, 96), (64, 80)), weights_backbone=None,
                        num_classes=2),
    # text: T5 v1.1 (gated-GELU feed-forward, untied head) as mT5, BART with scaled embeddings and ReLU, GPT-2 with
    # per-layer attention scaling (decoding with past, batch 2 and 3) and with upcast reordered attention, Llama
    # with llama3 rope scaling, attention/MLP bias and a tied LM head, BERT with relative_key_query positions,
    # DistilBERT with sinusoidal positions and a classification head, CLIP text with eos_token_id=2
    "mt5": _hf_seq2seq("MT5Config", "MT5Model", d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=1,
                       num_heads=4, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                       relative_attention_num_buckets=8, relative_attention_max_distance=16),
    "bart_scaled": _hf_seq2seq("BartConfig", "BartModel", d_model=32, encoder_layers=2, decoder_layers=1,
                               encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=48,
                               decoder_ffn_dim=48, max_position_embeddings=40, scale_embedding=True,
                               activation_function="relu", use_cache=False),
    "gpt2_past_scaled": _hf_decoder_past("GPT2Config", "GPT2Model", 3, 4, 8, cache=False, n_layer=3, n_embd=32,
                                         n_head=4, n_positions=64, scale_attn_by_inverse_layer_idx=True),
    "gpt2_upcast": _hf_text("GPT2Config", "GPT2LMHeadModel", ("logits",), n_embd=32, n_layer=2, n_head=2,
                            n_positions=40, reorder_and_upcast_attn=True, activation_function="gelu_new",
                            use_cache=False),
    "llama_tied_rope3": _hf_text("LlamaConfig", "LlamaForCausalLM", ("logits",), hidden_size=32,
                                 intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                                 num_key_value_heads=1, max_position_embeddings=64, attention_bias=True,
                                 mlp_bias=True, tie_word_embeddings=True, use_cache=False,
                                 rope_scaling={"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0,
                                               "high_freq_factor": 2.0, "original_max_position_embeddings": 16}),
    # dynamic NTK rope: the frequencies change once the positions pass max_position_embeddings (8 < 16)
    "llama_dyn_rope": _hf_text("LlamaConfig", "LlamaModel", hidden_size=32, intermediate_size=48,
                               num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=8, use_cache=False,
                               rope_scaling={"rope_type": "dynamic", "factor": 2.0}),
    "bert_relkey": _hf_text("BertConfig", "BertModel", ("last_hidden_state", "pooler_output"), with_types=True,
                            position_embedding_type="relative_key_query", hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=4, intermediate_size=48, max_position_embeddings=32),
    "distilbert_sin_cls": _hf_text("DistilBertConfig", "DistilBertForSequenceClassification", ("logits",), dim=32,
                                   n_layers=3, n_heads=4, hidden_dim=48, max_position_embeddings=32,
                                   sinusoidal_pos_embds=True, activation="relu", num_labels=4,
                                   initializer_range=0.15),  # logits ~1, not ~0.02
    "clip_text_eos2": _clip_text_eos2,
    # vision: ViT with 4x4 patches and a classifier, timm MaxViT (relative-MLP bias) and Swin with small widths
    "vit_p4_cls": _hf_image("ViTForImageClassification", "ViTConfig", keys=("logits",), image_size=16, size=16,
                            patch_size=4, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=48, qkv_bias=False, num_labels=7),
    # HF Swin at two image sizes (H and W dynamic): the second's stage grids (18x20, 9x10) are padded to the 4x4
    # windows; every stage wider than a window at both (at 4x4 the traced model fixes the shift at 0)
    "swin_pad_dyn": _hf_image("SwinForImageClassification", "SwinConfig", keys=("logits",), image_size=64,
                              size=64, spatial=((64, 64), (72, 80)), patch_size=2, embed_dim=16, depths=[2, 2, 1],
                              num_heads=[2, 2, 4], window_size=4, num_labels=6),
    "timm_maxvit_rmlp_pico": _timm("maxvit_rmlp_pico_rw_256", img_size=64, num_classes=10),
    "timm_swin_small_dims": _timm_net("swin_transformer", "SwinTransformer", img_size=64, patch_size=4, window_size=4,
                                      embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), num_classes=10),
    "whisper_encoder_80": _whisper_encoder_80,
    "lstm_bf": _nn_rnn_state("lstm_bf"), "gru_bi2_h0": _nn_rnn_state("gru_bi2_h0"),
    "rnn_relu_bi": _nn_rnn_state("rnn_relu_bi"),
}
MODELS.update(S10_MODELS)


# ---- torchvision without its C++ ops ---------------------------------------------------------
def torchvision_without_cxx_ops():
    """torchvision 0.28's wheel here is CUDA-linked (its _C.so does not load next to torch+cpu): define the ops
    its import and its detection models need as Python custom ops. onnxruntime gives every reference, so these
    stand-ins never enter a comparison."""
    import importlib.util

    import torch

    if importlib.util.find_spec("torchvision") is None or hasattr(torch.ops.torchvision, "nms"):
        return

    schema = "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"

    @torch.library.custom_op("torchvision::nms", mutates_args=(), schema=schema)
    def nms(dets, scores, iou_threshold):
        order, keep = scores.argsort(descending=True), []
        suppressed = torch.zeros(len(order), dtype=torch.bool)
        x1, y1, x2, y2 = dets.unbind(1)
        area = (x2 - x1) * (y2 - y1)
        for i, idx in enumerate(order.tolist()):
            if suppressed[i]:
                continue
            keep.append(idx)
            rest = order[i + 1:]
            w = (torch.minimum(x2[idx], x2[rest]) - torch.maximum(x1[idx], x1[rest])).clamp(min=0)
            h = (torch.minimum(y2[idx], y2[rest]) - torch.maximum(y1[idx], y1[rest])).clamp(min=0)
            inter = w * h
            suppressed[i + 1:] |= inter / (area[idx] + area[rest] - inter) > iou_threshold
        return torch.tensor(keep, dtype=torch.int64)

    @torch.library.custom_op("torchvision::qnms", mutates_args=(), schema=schema)
    def qnms(dets, scores, iou_threshold):
        raise NotImplementedError("quantized NMS")

    # roi_align as an op too: both exporters then write ONNX RoiAlign, as with torchvision's C++ ops. (Its Python
    # fallback is torch.compile'd, which the legacy exporter cannot trace.)
    @torch.library.custom_op("torchvision::roi_align", mutates_args=(),
                             schema="(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
                                    "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor")
    def roi_align(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned):
        tv_roi_align = importlib.import_module("torchvision.ops.roi_align")
        eager = getattr(tv_roi_align._roi_align, "__wrapped__", tv_roi_align._roi_align)  # not the compiled one
        return eager(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned)

    @roi_align.register_fake
    def _(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned):
        return input.new_empty((rois.shape[0], input.shape[1], pooled_height, pooled_width))

    import torchvision.extension

    torchvision.extension._has_ops = _ops_present
    # the module (torchvision.ops.roi_align is the function), which imported _has_ops by name
    importlib.import_module("torchvision.ops.roi_align")._has_ops = _ops_present


def _ops_present() -> bool:  # a module-level function, not a lambda: batched_nms is scripted while tracing
    return True


def _batched_nms_for_export():
    """torchvision's batched_nms as torch.export can trace it: the coordinate trick (what torchvision itself does
    while tracing), without its early return for no boxes, a branch on a data-dependent length that torch.export
    cannot decide (GuardOnDataDependentSymNode). With no boxes the offsets are 0 and nms keeps none, as before."""
    import contextlib
    import importlib.util
    from unittest import mock

    if importlib.util.find_spec("torchvision") is None:
        return contextlib.nullcontext()
    import torch
    import torchvision.ops.boxes

    def batched_nms(boxes, scores, idxs, iou_threshold):
        max_coordinate = torch.cat([boxes.reshape(-1), boxes.new_zeros(1)]).max()  # boxes >= 0: the same max
        offsets = idxs.to(boxes) * (max_coordinate + 1)
        return torchvision.ops.boxes.nms(boxes + offsets[:, None], scores, iou_threshold)

    return mock.patch.object(torchvision.ops.boxes, "batched_nms", batched_nms)


# ---- export (one subprocess per model) -------------------------------------------------------
def _file(cache, model, exporter):
    return os.path.join(cache, f"{model}.{exporter}.onnx")


def export_model(name, cache, exporters=EXPORTERS):
    """Build ``name`` and write the exporters' files and the inputs at two sizes; returns {exporter: error}."""
    import warnings

    import numpy as np
    import torch

    warnings.filterwarnings("ignore")
    torch.backends.mha.set_fastpath_enabled(False)  # the legacy exporter cannot trace the fused MHA path
    torchvision_without_cxx_ops()  # transformers and timm import torchvision too
    spec = MODELS[name]()
    args = spec.inputs(0)
    feeds = {}
    for k in (0, 1):
        for n, t in zip(spec.names, spec.inputs(k)):
            feeds[f"s{k}__{n}"] = t.numpy()
    np.savez(os.path.join(cache, f"{name}.inputs.npz"), **feeds)
    errors = {}
    for exporter in exporters:
        path = _file(cache, name, exporter)
        try:
            with torch.no_grad():
                if exporter == "legacy":
                    torch.onnx.export(spec.module, args, path, input_names=spec.names, dynamic_axes=spec.dynamic,
                                      opset_version=spec.opset, dynamo=False)
                else:
                    try:
                        _dynamo_export(spec, args, path, spec.dynamic)
                    except Exception as exc:  # noqa: BLE001 - torch.export refusing symbolic H/W: batch only
                        batch_only = _batch_only(spec.dynamic)
                        if batch_only == spec.dynamic:
                            raise
                        _dynamo_export(spec, args, path, batch_only)
                        _save_fixed_size_inputs(path, spec, feeds)
                        cause = exc.__cause__ or exc
                        errors[f"{exporter}_note"] = (f"dynamo with dynamic H/W: {type(cause).__name__}: "
                                                      f"{_first_line(cause, 160)}; exported with H/W fixed")
        except Exception as exc:  # recorded: an exporter that cannot write the model is a result too
            cause = exc.__cause__ or exc  # torch.onnx wraps torch.export's error in a generic one
            errors[exporter] = f"{type(cause).__name__}: {_first_line(cause)}"
            if os.path.exists(path):
                os.remove(path)
    return errors


def _dynamo_export(spec, args, path, dynamic):
    import torch

    dims = {}

    def dim(label):
        name = label if label.isidentifier() else "total"
        return dims.setdefault(name, torch.export.Dim(name, min=2, max=1024))

    per_input = [{a: dim(lbl) for a, lbl in dynamic.get(n, {}).items()} or None for n in spec.names]
    shapes = _by_signature(spec.module, per_input)
    with torch.no_grad(), _batched_nms_for_export():
        torch.onnx.export(spec.module, args, path, input_names=spec.names, dynamic_shapes=shapes,
                          dynamo=True, external_data=False)


def _save_fixed_size_inputs(path, spec, feeds):
    """The second size's inputs for a file whose H/W are fixed: its batch, the export size's H/W."""
    import numpy as np

    rng = np.random.default_rng(1)
    fixed = dict(feeds)
    for n in spec.names:
        first, second = feeds[f"s0__{n}"], feeds[f"s1__{n}"]
        if first.ndim == 4 and first.shape[2:] != second.shape[2:]:
            fixed[f"s1__{n}"] = rng.standard_normal(second.shape[:2] + first.shape[2:]).astype(first.dtype)
    np.savez(path[:-len(".onnx")] + ".inputs.npz", **fixed)


def _batch_only(dynamic):
    """The dynamic axes without the image ones (height, width)."""
    return {n: {a: lbl for a, lbl in axes.items() if lbl not in ("height", "width")} for n, axes in dynamic.items()}


def _by_signature(module, per_input):
    """torch.export wants dynamic_shapes shaped like forward's parameters: a ``*args`` parameter takes one tuple."""
    import inspect

    out, rest = [], list(per_input)
    for p in inspect.signature(module.forward).parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            out.append(tuple(rest))
            rest = []
        elif rest:
            out.append(rest.pop(0))
    return tuple(out)


# ---- checks (one subprocess per file and engine) ---------------------------------------------
def _first_line(exc, limit=300):
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    return line[:limit]


def _reason(exc):
    from nnvm_bridge.errors import UnsupportedOperatorError

    if isinstance(exc, UnsupportedOperatorError):
        return "unsupported: " + ", ".join(sorted(exc.ops))
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _compare(outs, refs):
    """Max error relative to each output's scale (None where shapes differ)."""
    import numpy as np

    if len(outs) != len(refs):
        return None, f"{len(outs)} outputs, onnxruntime gives {len(refs)}"
    worst = 0.0
    for i, (o, r) in enumerate(zip(outs, refs)):
        o, r = np.asarray(o), np.asarray(r)
        if o.shape != r.shape:
            return None, f"output {i}: shape {o.shape} != onnxruntime's {r.shape}"
        if r.size == 0:
            continue
        o, r = o.astype(np.float64), r.astype(np.float64)
        finite = np.isfinite(r)
        if not np.array_equal(o[~finite], r[~finite], equal_nan=True) or not np.isfinite(o[finite]).all():
            return None, f"output {i}: NaN or infinity where onnxruntime has {'none' if finite.all() else 'others'}"
        if not finite.any():
            continue
        scale = max(1.0, float(np.abs(r[finite]).max()))
        worst = max(worst, float(np.abs(o[finite] - r[finite]).max()) / scale)
    return worst, None


def _fixed_by_exporter(sess, feeds):
    """Why ``feeds`` do not fit the file (an axis the builder made dynamic that the exporter wrote as a fixed
    number: torch.export specialises what the model's code guards on), or ""."""
    for i in sess.get_inputs():
        for axis, (want, got) in enumerate(zip(i.shape, feeds[i.name].shape)):
            if isinstance(want, int) and want != got:
                return f"the exporter fixed input {i.name!r} axis {axis} at {want} (this size has {got})"
    return ""


def engine_runner(path, engine):
    """``run(feeds) -> [outputs]`` for ``path`` compiled by TVM ("tvm") or bound as a Gluon block ("mxnet"),
    built once without shape=."""
    import nnvm_bridge as nb

    if engine == "tvm":
        return nb.compile_model(path).run
    import mxnet as mx

    block = nb.import_to_gluon(path)
    names = [s.name for s in block._cached_graph[0]]

    def run(feeds):
        outs = block(*[mx.nd.array(feeds[n], dtype=feeds[n].dtype) for n in names])
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        return [o.asnumpy() for o in outs]
    return run


def check_file(path, engine):
    """Run ``path`` through ``engine`` ("tvm" or "mxnet") without shape= at both sizes: a result dict."""
    import numpy as np
    import onnxruntime as ort

    name = os.path.basename(path).split(".")[0]
    own = path[:-len(".onnx")] + ".inputs.npz"  # a file exported with fewer dynamic dims has inputs of its own
    data = np.load(own if os.path.exists(own) else os.path.join(os.path.dirname(path), f"{name}.inputs.npz"))
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    order = [i.name for i in sess.get_inputs()]
    sizes = [{n: data[f"s{k}__{n}"] for n in order} for k in (0, 1)]
    # the reference first: a size onnxruntime cannot run is one the exporter fixed, and is not checked
    why_not, refs = [], []
    for k, feeds in enumerate(sizes):
        why = _fixed_by_exporter(sess, feeds)
        if not why:
            try:
                refs.append(sess.run(None, feeds))
            except Exception as exc:  # noqa: BLE001 - recorded as the row's reason
                why = f"onnxruntime cannot run the file: {_first_line(exc)}"
        why_not.append(why)
    sizes = [feeds for feeds, why in zip(sizes, why_not) if not why]
    fixed = "; ".join(f"size {k}: {why}" for k, why in enumerate(why_not) if why)
    if not sizes:
        return {"result": "error", "reason": fixed, "build_s": 0.0}
    t0 = time.perf_counter()
    try:
        run = engine_runner(path, engine)
        build_s = time.perf_counter() - t0
        errs = []
        for feeds, ref in zip(sizes, refs):
            err, why = _compare(run(feeds), ref)
            if why:
                return {"result": "wrong", "reason": why, "build_s": round(build_s, 1)}
            errs.append(err)
        worst = max(errs)
        if worst <= TOL and fixed:  # one size only: not the check asked for
            return {"result": "error", "max_rel_err": worst, "build_s": round(build_s, 1),
                    "reason": f"{fixed}, not checked; the other size matches ({worst:.0e})"}
        return {"result": "ok" if worst <= TOL else "wrong", "max_rel_err": worst, "build_s": round(build_s, 1),
                "reason": "" if worst <= TOL else f"max error {worst:.2e} of the output's scale"}
    except Exception as exc:  # the cache folder is this machine's: the table names the file alone
        reason = _reason(exc).replace(os.path.dirname(path) + os.sep, "")
        return {"result": "error", "reason": reason, "build_s": round(time.perf_counter() - t0, 1)}


# ---- driver ------------------------------------------------------------------------------------
def _subprocess(args, timeout):
    """Run this script with ``args`` in a child; its last stdout line is JSON. Crashes and timeouts are results."""
    cmd = [sys.executable, os.path.abspath(__file__), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"result": "timeout", "reason": f"no result within {timeout} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    tail = (proc.stderr.strip().splitlines() or [""])[-1][:300]
    return {"result": "crash", "reason": f"exit status {proc.returncode}: {tail}"}


def _file_info(path):
    import onnx

    m = onnx.load(path, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    dyn = sorted({d.dim_param for vi in m.graph.input if vi.name not in inits
                  for d in vi.type.tensor_type.shape.dim if d.dim_param})
    opset = max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), default=None)
    return {"opset": opset, "nodes": len(m.graph.node), "dynamic_dims": dyn,
            "size_kb": os.path.getsize(path) // 1024}


def sweep(names, cache, jsonl, timeout, reexport=False, export_only=False):
    os.makedirs(cache, exist_ok=True)
    done = {}
    if os.path.exists(jsonl):
        with open(jsonl) as f:
            for line in f:
                row = json.loads(line)
                done[(row["model"], row["exporter"])] = row
    for name in names:
        t0 = time.perf_counter()
        status = os.path.join(cache, f"{name}.export.json")
        if reexport or not os.path.exists(status):
            export = _subprocess(["--export-one", name, "--cache", cache], timeout)
            with open(status, "w") as f:
                json.dump(export, f)
            print(f"[{name}] export {time.perf_counter() - t0:.0f} s: {export}", flush=True)
        with open(status) as f:
            export = json.load(f)
        if export_only:
            continue
        for exporter in EXPORTERS:
            path = _file(cache, name, exporter)
            row = {"model": name, "exporter": exporter}
            if not os.path.exists(path):
                row.update(export_error=export.get(exporter) or export.get("reason", "not written"))
            else:
                row.update(_file_info(path))
                if export.get(f"{exporter}_note"):
                    row["export_note"] = export[f"{exporter}_note"]
                for engine in ("tvm", "mxnet"):
                    row[engine] = _subprocess(["--check-one", path, engine], timeout)
            done[(name, exporter)] = row
            print(json.dumps(row), flush=True)
            _write_jsonl(done, jsonl)


def _write_jsonl(rows, jsonl):
    os.makedirs(os.path.dirname(jsonl), exist_ok=True)
    order = {n: i for i, n in enumerate(MODELS)}
    with open(jsonl, "w") as f:
        for key in sorted(rows, key=lambda k: (order.get(k[0], len(order)), EXPORTERS.index(k[1]))):
            f.write(json.dumps(rows[key]) + "\n")


def _cell(res):
    if res is None:
        return "-"
    if res["result"] == "ok":
        return f"ok ({res['max_rel_err']:.0e})"
    if _file_cannot_run_twice(res) and "max_rel_err" in res:
        return f"one size ok ({res['max_rel_err']:.0e})"
    return res["result"]


def write_table(jsonl, table):
    with open(jsonl) as f:
        rows = [json.loads(line) for line in f]
    files = [r for r in rows if "export_error" not in r]
    ok = {e: sum(r[e]["result"] == "ok" for r in files) for e in ("tvm", "mxnet")}
    unrunnable = sum(all(_file_cannot_run_twice(r[e]) for e in ("tvm", "mxnet")) for r in files)
    lines = [
        "# Real models through nnvm_bridge (issue 10)", "",
        "ONNX files written by PyTorch's legacy exporter (`dynamo=False`, dynamic axes on batch/sequence) and its",
        "dynamo exporter (`dynamo=True`, `dynamic_shapes`) from small random-weight models, each run WITHOUT `shape=`",
        "through `compile_model(path)` (TVM) and `import_to_gluon(path)` (MXNet) at two input sizes and compared with",
        "onnxruntime (max abs error <= 1e-4 x max(1, max|ref|), output by output; the figure is the worst error of",
        "either size relative to that scale). Made by `nice python tools/real_model_sweep.py` (results:",
        "`benchmarks/results/real_models.jsonl`).", "",
        f"**{len(files)} files: TVM {ok['tvm']} match, MXNet {ok['mxnet']} match.**",
        f"Of the others, {unrunnable} are files that onnxruntime itself cannot run at the second size (the exporter",
        "fixed a dim that the model was exported with as dynamic); their reason says so, with the error at the size",
        "onnxruntime runs.", "",
        "| model | exporter | dynamic dims | TVM | MXNet | reason |", "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "export_error" in r:
            lines.append(f"| {r['model']} | {r['exporter']} | | - | - | export failed: {_md(r['export_error'])} |")
            continue
        reasons = [f"export: {_md(r['export_note'])}"] if r.get("export_note") else []
        for engine, label in (("tvm", "TVM"), ("mxnet", "MXNet")):
            if r[engine]["result"] != "ok":
                reasons.append(f"{label}: {_md(r[engine]['reason'])}")
        lines.append(f"| {r['model']} | {r['exporter']} | {', '.join(r['dynamic_dims'])} | {_cell(r['tvm'])} | "
                     f"{_cell(r['mxnet'])} | {'; '.join(reasons)} |")
    os.makedirs(os.path.dirname(table), exist_ok=True)
    with open(table, "w") as f:
        f.write("\n".join(lines) + "\n")


def _file_cannot_run_twice(res):
    """Whether a check failed because the file itself does not take the second size (see check_file)."""
    reason = res.get("reason", "") if res["result"] != "ok" else ""
    return "onnxruntime cannot run the file" in reason or "the exporter fixed input" in reason


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", help="models to run (default: all)")
    ap.add_argument("--cache", default=DEFAULT_CACHE, help="folder for the ONNX files and inputs")
    ap.add_argument("--jsonl", default=DEFAULT_JSONL)
    ap.add_argument("--table", default=DEFAULT_TABLE)
    ap.add_argument("--timeout", type=int, default=900, help="seconds per export or check subprocess")
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--export-only", action="store_true", help="write the cache, check nothing")
    ap.add_argument("--reexport", action="store_true", help="export again even where the cache has the files")
    ap.add_argument("--export-one", metavar="MODEL", help=argparse.SUPPRESS)
    ap.add_argument("--check-one", nargs=2, metavar=("PATH", "ENGINE"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.export_one:
        os.makedirs(a.cache, exist_ok=True)
        print(json.dumps(export_model(a.export_one, a.cache)))
        return
    if a.check_one:
        print(json.dumps(check_file(*a.check_one)))
        return
    if not a.table_only:
        unknown = set(a.only or ()) - set(MODELS)
        if unknown:
            ap.error(f"unknown models: {sorted(unknown)}; known: {sorted(MODELS)}")
        sweep(a.only or list(MODELS), a.cache, a.jsonl, a.timeout, a.reexport, a.export_only)
        if a.export_only:
            return
    write_table(a.jsonl, a.table)


if __name__ == "__main__":
    main()
