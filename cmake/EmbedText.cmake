# cmake -DINPUT=file -DOUTPUT=header -P EmbedText.cmake: writes `constexpr char kOpenApiJson[]` with the
# file's bytes as a raw string literal.
file(READ ${INPUT} content)
file(WRITE ${OUTPUT} "// Generated from ${INPUT}; do not edit.\n#pragma once\ninline constexpr char kOpenApiJson[] = R\"concord_embed(${content})concord_embed\";\n")
