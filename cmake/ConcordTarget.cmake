# Warnings are errors for our own code only; third-party headers come in as SYSTEM through imported targets.
# Designated initialisers that leave members at their defaults are idiomatic C++20, hence
# -Wno-missing-field-initializers.
set(CONCORD_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wno-missing-field-initializers -Werror)

if(CONCORD_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(CONCORD_FUZZ)
  # Instrument every one of our libraries for coverage; the fuzz targets add the libFuzzer main.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# concord_library(NAME SOURCES ... DEPS ...): library concord_NAME, alias concord::NAME.
function(concord_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(concord_${name} STATIC ${ARG_SOURCES})
  add_library(concord::${name} ALIAS concord_${name})
  target_include_directories(concord_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(concord_${name} PRIVATE ${CONCORD_WARNINGS})
  target_link_libraries(concord_${name} PUBLIC ${ARG_DEPS})
endfunction()

# concord_test(NAME [WHOLE] SOURCES ... DEPS ...): a GoogleTest executable registered with CTest, one CTest
# test per GoogleTest test; WHOLE registers the executable as one CTest test instead (for suites whose
# tests share an expensive set-up per process, such as a PostgreSQL server).
function(concord_test name)
  cmake_parse_arguments(ARG "WHOLE" "" "SOURCES;DEPS" ${ARGN})
  if(NOT CONCORD_TESTS)
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${CONCORD_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    CONCORD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    CONCORD_SHARED_DATA="${PROJECT_SOURCE_DIR}/../shared/data")
  if(ARG_WHOLE)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "TZ=UTC")
  else()
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES ENVIRONMENT "TZ=UTC")
  endif()
endfunction()
