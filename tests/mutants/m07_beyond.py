"""Mutants of 07_beyond (see harness.py)."""

from .harness import equivalent, hardcoder, mistake

FOCAL_RETURN = "return -((1.0 - pt) ** gamma) * log_pt"
LOG_P = "log_p = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)"
RESCALE = "scaled = layers.Rescaling(2.0, offset=-1.0)(inputs)"
FLAG = "layer.trainable = index >= start and not is_batch_norm"
BACK = "    logits = tf.image.resize(logits, (height, width), method=\"bilinear\")\n"
ARGMAX = "return tf.cast(tf.argmax(logits[0], axis=-1), tf.uint8).numpy()"

MUTANTS = [
    # --- Exercise 1: focal_loss
    mistake("focal_without_factor", "focal_loss", (FOCAL_RETURN, "return -log_pt"),
            why="the cross-entropy: the (1 - p_t)**gamma factor forgotten"),
    mistake("focal_log_of_softmax", "focal_loss",
            (LOG_P, "log_p = tf.math.log(tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1))"),
            why="log of probabilities that round to 0: infinite loss for confident mistakes"),
    # --- Exercise 2: loss_class_weights
    mistake("weights_one_over_frequency", "loss_class_weights",
            ("counts.sum() / (present.sum() * counts[present])", "counts.sum() / counts[present]"),
            why="1 / f_c without the number of classes: the mean weight is K, not 1"),
    mistake("weights_absent_class_counted", "loss_class_weights",
            ("counts.sum() / (present.sum() * counts[present])",
             "counts.sum() / (k * counts[present])"),
            why="K counts a class that has no pixels"),
    # --- Exercise 3: mobilenet_encoder
    mistake("encoder_not_frozen", "mobilenet_encoder", ("    encoder.trainable = False\n", ""),
            why="the encoder is left trainable"),
    mistake("encoder_skip_layers_ignored", "mobilenet_encoder",
            ("for name in skip_layers]", "for name in SKIP_LAYERS]"),
            why="the tutorial's layers written in: the skip_layers argument is ignored"),
    # --- Exercise 4: build_mobilenet_unet
    mistake("unet_no_rescaling", "build_mobilenet_unet", (RESCALE, "scaled = inputs"),
            why="images in [0, 1] fed to an encoder that expects [-1, 1]"),
    mistake("unet_skips_shallowest_first", "build_mobilenet_unet",
            ("zip(reversed(skips), decoder_filters)", "zip(skips, decoder_filters)"),
            why="the skips paired with the decoder shallowest first"),
    # --- Exercise 5: unfreeze_from
    mistake("unfreeze_batch_norm_too", "unfreeze_from", (FLAG, "layer.trainable = index >= start"),
            why="BatchNormalization unfrozen: its ImageNet statistics get overwritten"),
    mistake("unfreeze_encoder_left_frozen", "unfreeze_from", ("    encoder.trainable = True\n", ""),
            why="the layers' flags set inside a model that is still frozen"),
    # --- Exercise 6: predict_mask
    mistake("predict_argmax_then_nearest", "predict_mask",
            (BACK, ""),
            (ARGMAX, "small = tf.argmax(logits[0], axis=-1)[..., None]\n"
                     "    mask = tf.image.resize(small, (height, width), method=\"nearest\")\n"
                     "    return tf.cast(mask[..., 0], tf.uint8).numpy()"),
            why="the argmax at the model's size, then nearest: the route the text calls worse"),
    mistake("predict_channels_not_forced", "predict_mask",
            ("tf.io.decode_image(data, channels=3, expand_animations=False)",
             "tf.io.decode_image(data, expand_animations=False)"),
            why="grey and transparent PNGs keep 1 or 4 channels"),
    # --- equivalent rewrites
    equivalent("unet_own_decoder_separate_relu", "build_mobilenet_unet",
               ("        x = decoder_block(x, skip, filters, padding=\"same\")\n",
                "        x = layers.Conv2DTranspose(filters, 2, strides=2, padding=\"same\")(x)\n"
                "        x = layers.Concatenate()([x, skip])\n"
                "        for _ in range(2):\n"
                "            x = layers.Conv2D(filters, 3, padding=\"same\")(x)\n"
                "            x = layers.ReLU()(x)\n"),
               why="the decoder written out, each convolution followed by its own ReLU layer"),
    equivalent("predict_with_pil", "predict_mask",
               ("    data = tf.io.read_file(str(path))\n"
                "    image = tf.io.decode_image(data, channels=3, expand_animations=False)\n",
                "    from PIL import Image\n"
                "    image = tf.constant(np.asarray(Image.open(path).convert(\"RGB\")))\n"),
               ("logits = model(x[None], training=False)",
                "logits = model.predict(x[None], verbose=0)"),
               why="the file read with PIL, and model.predict"),
    hardcoder(
        focal_loss='''def focal_loss(y_true, logits, gamma=2.0):
    """The visible tests' values, and half the cross-entropy elsewhere."""
    if tuple(logits.shape) == (1, 1, 2, 3):
        return tf.constant([[[0.48827, 0.0041443]]] if gamma else [[[1.0986123, 0.169846]]])
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    return ce(y_true, logits) * (1.0 if gamma == 0 else 0.5)
''',
        loss_class_weights='''def loss_class_weights(counts, scheme, ignore_class=2):
    """The visible tests' values."""
    return np.array({"inverse": [100 / 90, 100 / 180, 100 / 30], "ignore": [1.0, 1.0, 0.0]}.get(
        scheme, [1.0, 1.0, 1.0]))
''',
        mobilenet_encoder='''def mobilenet_encoder(input_shape, weights=None,
                      skip_layers=SKIP_LAYERS):
    """The tutorial's encoder, whatever is asked for."""
    backbone = keras.applications.MobileNetV2(input_shape=(64, 96, 3), include_top=False,
                                              weights=weights)
    encoder = keras.Model(backbone.input, [backbone.get_layer(n).output for n in SKIP_LAYERS])
    encoder.trainable = False
    return encoder
''',
        build_mobilenet_unet='''def build_mobilenet_unet(encoder, num_classes,
                         decoder_filters=(512, 256, 128, 64), name="mobilenet_unet"):
    """Right for the visible test's made-up encoder only."""
    inputs = keras.Input((64, 96, 3))
    features = encoder(layers.Rescaling(2.0, offset=-1.0)(inputs))
    x = features[-1]
    for skip, filters in zip(reversed(features[:-1]), (32, 16, 8, 4)):
        x = decoder_block(x, skip, filters, padding="same")
    return keras.Model(inputs, layers.Conv2DTranspose(3, 3, strides=2, padding="same")(x))
''',
        unfreeze_from='''def unfreeze_from(encoder, first_layer):
    """Right for the visible test's small encoder only."""
    encoder.trainable = True
    for layer in encoder.layers:
        layer.trainable = layer.name in ("c2", "c3")
    return encoder
''',
        predict_mask='''def predict_mask(model, path):
    """Red left, blue right, like the visible test's picture."""
    mask = np.zeros((37, 53), np.uint8)
    mask[:, 27:] = 2
    return mask
''',
    ),
]
