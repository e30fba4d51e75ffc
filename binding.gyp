{
  "targets": [
    {
      "target_name": "ann_seg",
      "sources": ["<!@(node scripts/native-sources.mjs cpu)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/include",
        "<!(node scripts/openblas.mjs include)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "ANN_SEG_VERSION=\"<!(node -p \"require('./package.json').version\")\""
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fvisibility=hidden", "-Wno-psabi"],
      "libraries": ["<!(node scripts/openblas.mjs lib)", "-lpthread", "-lm"],
      "ldflags": ["-Wl,--exclude-libs,ALL"]
    }
  ]
}
