"""Mutants of 07_beyond (see harness.py)."""

from .harness import equivalent, hardcoder, mistake, rewrite

FOCAL_RETURN = "return -((1.0 - pt) ** gamma) * log_pt"
LOG_P = "log_p = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)"
LOG_PT = "log_pt = tf.gather(log_p, labels, batch_dims=labels.shape.rank)"
RESCALE = "scaled = layers.Rescaling(2.0, offset=-1.0)(inputs)"
HEAD = "logits = layers.Conv2DTranspose(num_classes, 3, strides=2, padding=\"same\")(x)"
FLAG = "layer.trainable = index >= start and not is_batch_norm"
BACK = "logits = tf.image.resize(logits, (height, width), method=\"bilinear\")\n"
ARGMAX = "return tf.cast(tf.argmax(logits[0], axis=-1), tf.uint8).numpy()"

MUTANTS = [
    # --- Exercise 1: focal_loss
    mistake("focal_without_factor", "focal_loss", (FOCAL_RETURN, "return -log_pt"),
            why="the cross-entropy: the (1 - p_t)**gamma factor forgotten"),
    mistake("focal_softmax_twice", "focal_loss",
            (LOG_P, "log_p = tf.nn.log_softmax(tf.nn.softmax(tf.cast(logits, tf.float32)), "
                    "axis=-1)"),
            why="softmax applied to probabilities again, as with a softmax head"),
    mistake("focal_mean_over_classes", "focal_loss",
            (LOG_PT, "log_pt = tf.reduce_mean(log_p * tf.one_hot(labels, log_p.shape[-1]), "
                     "axis=-1)"),
            why="the one-hot product averaged over the class axis instead of summed"),
    mistake("focal_mean_over_pixels", "focal_loss",
            (FOCAL_RETURN, "return tf.reduce_mean(-((1.0 - pt) ** gamma) * log_pt)"),
            why="one number per batch: no per-pixel losses for Keras's sample weights"),
    mistake("focal_p_not_one_minus_p", "focal_loss",
            (FOCAL_RETURN, "return -(pt ** gamma) * log_pt"),
            why="the factor p_t**gamma: weights the easy pixels up instead of down"),
    mistake("focal_gamma_fixed", "focal_loss",
            (FOCAL_RETURN, "return -((1.0 - pt) ** 2.0) * log_pt"),
            why="gamma = 2 written in, the argument ignored"),
    mistake("focal_log_of_softmax", "focal_loss",
            (LOG_P, "log_p = tf.math.log(tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1))"),
            why="log of probabilities that round to 0: infinite loss for confident mistakes"),
    mistake("focal_sigmoid", "focal_loss",
            (LOG_P, "log_p = tf.math.log_sigmoid(tf.cast(logits, tf.float32))"),
            why="one sigmoid per class instead of a softmax over the classes"),
    # --- Exercise 2: loss_class_weights
    mistake("weights_one_over_frequency", "loss_class_weights",
            ("counts.sum() / (present.sum() * counts[present])", "counts.sum() / counts[present]"),
            why="1 / f_c without the number of classes: the mean weight is K, not 1"),
    mistake("weights_absent_class_counted", "loss_class_weights",
            ("counts.sum() / (present.sum() * counts[present])",
             "counts.sum() / (k * counts[present])"),
            why="K counts a class that has no pixels"),
    mistake("weights_no_range_check", "loss_class_weights",
            ("        if not 0 <= ignore_class < k:\n"
             "            raise ValueError(f\"ignore_class {ignore_class} is not a class id "
             "0..{k - 1}\")\n",
             ""),
            why="ignore_class=3 (the trimap value) raises an IndexError, not a clear ValueError"),
    # --- Exercise 3: mobilenet_encoder
    mistake("encoder_not_frozen", "mobilenet_encoder", ("    encoder.trainable = False\n", ""),
            why="the encoder is left trainable"),
    mistake("encoder_bottom_from_backbone_output", "mobilenet_encoder",
            ("outputs = [backbone.get_layer(name).output for name in skip_layers]",
             "outputs = [backbone.get_layer(name).output for name in skip_layers[:-1]]\n"
             "    outputs.append(backbone.output)"),
            why="the bottom taken from the backbone's last layer (out_relu, 1280 channels)"),
    mistake("encoder_skip_layers_ignored", "mobilenet_encoder",
            ("for name in skip_layers]", "for name in SKIP_LAYERS]"),
            why="the tutorial's layers written in: the skip_layers argument is ignored"),
    # --- Exercise 4: build_mobilenet_unet
    mistake("unet_no_rescaling", "build_mobilenet_unet", (RESCALE, "scaled = inputs"),
            why="images in [0, 1] fed to an encoder that expects [-1, 1]"),
    mistake("unet_rescaled_as_if_0_255", "build_mobilenet_unet",
            (RESCALE, "scaled = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)"),
            why="MobileNetV2's preprocessing for 0..255 applied to images in [0, 1]"),
    mistake("unet_head_at_half_size", "build_mobilenet_unet",
            (HEAD, "logits = layers.Conv2D(num_classes, 1)(x)"),
            why="a 1x1 head without the last upsampling: the mask is half the size"),
    mistake("unet_softmax_head", "build_mobilenet_unet",
            (HEAD, HEAD.replace('padding="same")', 'padding="same", activation="softmax")')),
            why="probabilities instead of logits"),
    mistake("unet_skips_shallowest_first", "build_mobilenet_unet",
            ("zip(reversed(skips), decoder_filters)", "zip(skips, decoder_filters)"),
            why="the skips paired with the decoder shallowest first"),
    mistake("unet_filters_not_checked", "build_mobilenet_unet",
            ("    if len(decoder_filters) != skips_count:\n", "    if False:\n"),
            why="too few decoder filters silently drop skips (zip stops early)"),
    # --- Exercise 5: unfreeze_from
    mistake("unfreeze_everything", "unfreeze_from", (FLAG, "layer.trainable = not is_batch_norm"),
            why="the early layers unfrozen too"),
    mistake("unfreeze_batch_norm_too", "unfreeze_from", (FLAG, "layer.trainable = index >= start"),
            why="BatchNormalization unfrozen: its ImageNet statistics get overwritten"),
    mistake("unfreeze_encoder_left_frozen", "unfreeze_from", ("    encoder.trainable = True\n", ""),
            why="the layers' flags set inside a model that is still frozen"),
    mistake("unfreeze_off_by_one", "unfreeze_from",
            (FLAG, "layer.trainable = index > start and not is_batch_norm"),
            why="starts after the named layer"),
    mistake("unfreeze_the_wrong_end", "unfreeze_from",
            (FLAG, "layer.trainable = index < start and not is_batch_norm"),
            why="unfreezes the early layers and keeps the top frozen"),
    # --- Exercise 6: predict_mask
    mistake("predict_argmax_then_nearest", "predict_mask",
            (BACK, ""),
            (ARGMAX, "small = tf.argmax(logits[0], axis=-1)[..., None]\n"
                     "    mask = tf.image.resize(small, (height, width), method=\"nearest\")\n"
                     "    return tf.cast(mask[..., 0], tf.uint8).numpy()"),
            why="the argmax at the model's size, then nearest: the route the text calls worse"),
    mistake("predict_class_ids_bilinear", "predict_mask",
            (BACK, ""),
            (ARGMAX, "small = tf.cast(tf.argmax(logits[0], axis=-1)[..., None], tf.float32)\n"
                     "    mask = tf.image.resize(small, (height, width))\n"
                     "    return tf.cast(tf.round(mask[..., 0]), tf.uint8).numpy()"),
            why="class ids resized bilinearly: invents classes on boundaries"),
    mistake("predict_at_model_size", "predict_mask", (BACK, ""),
            why="the mask is not brought back to the photo's size"),
    mistake("predict_without_255", "predict_mask",
            ("x = tf.image.resize(image, model.input.shape[1:3]) / 255.0",
             "x = tf.image.resize(image, model.input.shape[1:3])"),
            why="pixel values 0..255 fed to a model trained on [0, 1]"),
    mistake("predict_height_width_swapped", "predict_mask",
            ("(height, width), method=", "(width, height), method="),
            why="the mask resized to (width, height)"),
    mistake("predict_jpeg_only", "predict_mask",
            ("tf.io.decode_image(data, channels=3, expand_animations=False)",
             "tf.io.decode_jpeg(data, channels=3)"),
            why="a JPEG decoder: PNG files fail"),
    mistake("predict_channels_not_forced", "predict_mask",
            ("tf.io.decode_image(data, channels=3, expand_animations=False)",
             "tf.io.decode_image(data, expand_animations=False)"),
            why="grey and transparent PNGs keep 1 or 4 channels"),
    # --- equivalent rewrites
    equivalent("focal_one_hot_sum", "focal_loss",
               (LOG_PT, "log_pt = tf.reduce_sum(log_p * tf.one_hot(labels, tf.shape(log_p)[-1]), "
                        "axis=-1)"),
               why="the true class's log-probability picked with a one-hot product"),
    rewrite("focal_with_keras", "equivalent", "Keras's CategoricalFocalCrossentropy with alpha=1",
            focal_loss='''def focal_loss(y_true, logits, gamma=2.0):
    """Focal loss per pixel."""
    logits = tf.cast(logits, tf.float32)
    one_hot = tf.one_hot(tf.cast(y_true, tf.int32)[..., 0], logits.shape[-1])
    loss = keras.losses.CategoricalFocalCrossentropy(alpha=1.0, gamma=gamma, from_logits=True,
                                                     reduction=None)
    return loss(one_hot, logits)
'''),
    equivalent("encoder_backbone_frozen_first", "mobilenet_encoder",
               ("    outputs = [", "    backbone.trainable = False\n    outputs = ["),
               ("    encoder.trainable = False\n", ""),
               why="the backbone frozen before the feature model is made from its layers"),
    equivalent("unet_rescale_with_ops", "build_mobilenet_unet",
               (RESCALE, "scaled = inputs * 2.0 - 1.0"),
               why="the rescaling as arithmetic on the Keras tensor"),
    equivalent("unet_own_decoder_separate_relu", "build_mobilenet_unet",
               ("        x = decoder_block(x, skip, filters, padding=\"same\")\n",
                "        x = layers.Conv2DTranspose(filters, 2, strides=2, padding=\"same\")(x)\n"
                "        x = layers.Concatenate()([x, skip])\n"
                "        for _ in range(2):\n"
                "            x = layers.Conv2D(filters, 3, padding=\"same\")(x)\n"
                "            x = layers.ReLU()(x)\n"),
               why="the decoder written out, each convolution followed by its own ReLU layer"),
    equivalent("unfreeze_with_a_flag", "unfreeze_from",
               ("    for index, layer in enumerate(encoder.layers):\n"
                "        is_batch_norm = isinstance(layer, layers.BatchNormalization)\n"
                "        layer.trainable = index >= start and not is_batch_norm\n",
                "    reached = False\n"
                "    for layer in encoder.layers:\n"
                "        reached = reached or layer.name == first_layer\n"
                "        layer.trainable = reached\n"
                "        if type(layer).__name__ == \"BatchNormalization\":\n"
                "            layer.trainable = False\n"),
               why="a flag that turns on at the named layer; BatchNorm found by class name"),
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
