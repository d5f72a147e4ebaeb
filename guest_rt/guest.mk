# SPDX-License-Identifier: BSD-3-Clause
# guest_rt/guest.mk — the bare-metal guest runtime, its two boot paths and the
# guest applications (hello, probe). Included by the top-level Makefile.
#
# One set of objects serves both boot paths: everything is compiled -fPIC, so
# the same archive links into the static Multiboot ELF (linked at 1 MiB) and
# into the GNU-EFI shared object that OVMF relocates wherever it likes.

GUEST_B := $(B)/guest
NEWLIB_B := $(B)/newlib
NEWLIB_TARBALL := /usr/src/newlib/newlib-3.3.0.tar.xz
NEWLIB_PREFIX := $(abspath $(NEWLIB_B))/install
NEWLIB_LIBC := $(NEWLIB_PREFIX)/x86_64-elf/lib/libc.a
NEWLIB_INC := $(NEWLIB_PREFIX)/x86_64-elf/include

# Code generation shared by newlib and our own guest code. No red zone: the
# exception handlers run on the interrupted stack. -fPIC: see above.
GUEST_CODEGEN := -ffreestanding -fno-stack-protector -mno-red-zone -fPIC \
	-fno-omit-frame-pointer -fno-plt -ffunction-sections -fdata-sections

# newlib: built once into build/newlib and reused (the libc.a file is the
# target, so it is rebuilt only when missing). Only all-target-newlib.
$(NEWLIB_LIBC):
	$(Q)echo "  NEWLIB  $(NEWLIB_B) (once, a few minutes)"
	$(Q)rm -rf $(NEWLIB_B) && mkdir -p $(NEWLIB_B)/obj
	$(Q)tar -xJf $(NEWLIB_TARBALL) -C $(NEWLIB_B)
	$(Q)cd $(NEWLIB_B)/obj && ../newlib-salsa/configure \
		--target=x86_64-elf --prefix=$(NEWLIB_PREFIX) \
		--disable-multilib --disable-newlib-supplied-syscalls \
		--disable-newlib-multithread --enable-newlib-io-long-long \
		--enable-newlib-io-c99-formats \
		CC_FOR_TARGET="$(CC) $(GUEST_CODEGEN)" \
		CFLAGS_FOR_TARGET="-O2" \
		AR_FOR_TARGET=ar RANLIB_FOR_TARGET=ranlib AS_FOR_TARGET=as \
		LD_FOR_TARGET=ld NM_FOR_TARGET=nm OBJDUMP_FOR_TARGET=objdump \
		>$(abspath $(NEWLIB_B))/configure.log 2>&1
	$(Q)$(MAKE) -C $(NEWLIB_B)/obj -j$$(nproc) all-target-newlib \
		>$(NEWLIB_B)/build.log 2>&1 || { tail -30 $(NEWLIB_B)/build.log; exit 1; }
	$(Q)$(MAKE) -C $(NEWLIB_B)/obj install-target-newlib \
		>$(NEWLIB_B)/install.log 2>&1 || { tail -30 $(NEWLIB_B)/install.log; exit 1; }
	$(Q)test -f $@

.PHONY: newlib
newlib: $(NEWLIB_LIBC)

# ---- the runtime -------------------------------------------------------------

GCC_INCLUDE := $(shell $(CC) -print-file-name=include)
LIBGCC := $(shell $(CC) -print-libgcc-file-name)
# gcc's own headers first: newlib's stdatomic.h does not build with gcc.
GUEST_CFLAGS := -std=gnu11 -O2 -g $(WARN) $(GUEST_CODEGEN) -nostdinc \
	-isystem $(GCC_INCLUDE) -isystem $(NEWLIB_INC) -I. -Iguest_rt -Iinclude -MMD -MP
EFI_CFLAGS := -I/usr/include/efi -I/usr/include/efi/x86_64 -fshort-wchar -DGNU_EFI_USE_MS_ABI

GUEST_RT_SRCS := $(wildcard guest_rt/*.c) $(wildcard guest_rt/*.S)
GUEST_RT_OBJS := $(patsubst %,$(GUEST_B)/obj/%.o,$(GUEST_RT_SRCS)) \
	$(patsubst %,$(GUEST_B)/obj/%.o,$(COMMON_SRCS))
GUEST_RT_LIB := $(GUEST_B)/libguest_rt.a
MULTIBOOT_OBJS := $(GUEST_B)/obj/boot/multiboot.S.o $(GUEST_B)/obj/boot/multiboot.c.o
EFI_OBJS := $(GUEST_B)/obj/boot/efi_main.c.o
# Every guest_rt/apps/NAME.c becomes build/guest/NAME.elf and NAME.efi.
GUEST_APPS := $(sort $(basename $(notdir $(wildcard guest_rt/apps/*.c))))
GUEST_APP_OBJ = $(GUEST_B)/obj/guest_rt/apps/$(1).c.o

# Every guest object waits for newlib's headers (order-only: never rebuilt
# because newlib's timestamp moves).
$(GUEST_B)/obj/%.c.o: %.c | $(NEWLIB_LIBC)
	@mkdir -p $(@D)
	$(Q)echo "  CC      $@"
	$(Q)$(CC) $(GUEST_CFLAGS) $(if $(filter boot/efi%,$<),$(EFI_CFLAGS)) -c $< -o $@
$(GUEST_B)/obj/%.S.o: %.S | $(NEWLIB_LIBC)
	@mkdir -p $(@D)
	$(Q)echo "  AS      $@"
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_RT_LIB): $(GUEST_RT_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

GUEST_LINK_LIBS = $(GUEST_RT_LIB) $(NEWLIB_LIBC) $(LIBGCC)

# How an image is linked. pkg/install.mk writes the same variables into the
# installed ivshm-guest-build, so an app built outside the tree is linked
# exactly like these.
EFI_CRT0 := /usr/lib/crt0-efi-x86_64.o
EFI_LIBGNUEFI := /usr/lib/libgnuefi.a
GUEST_ELF_LDFLAGS := -nostdlib -static -z max-page-size=0x1000 -z noexecstack --gc-sections \
	--no-warn-rwx-segments
GUEST_EFI_LDFLAGS := -nostdlib -znocombreloc -z noexecstack -shared -Bsymbolic
GUEST_EFI_OBJCOPY := -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela \
	-j .reloc --target=efi-app-x86_64 --subsystem=10

# Direct boot: static ELF at 1 MiB. <app>.sym.elf keeps the debug info for
# gdb; <app>.elf is the same image without it.
$(GUEST_B)/%.sym.elf: $(GUEST_B)/obj/guest_rt/apps/%.c.o $(MULTIBOOT_OBJS) $(GUEST_RT_LIB) linker/multiboot.ld
	$(Q)echo "  LD      $@"
	$(Q)ld $(GUEST_ELF_LDFLAGS) -T linker/multiboot.ld -o $@ \
		$(MULTIBOOT_OBJS) $< --start-group $(GUEST_LINK_LIBS) --end-group
$(GUEST_B)/%.elf: $(GUEST_B)/%.sym.elf
	$(Q)objcopy --strip-debug $< $@

# UEFI: GNU-EFI shared object, then PE32+.
$(GUEST_B)/%.efi.so: $(GUEST_B)/obj/guest_rt/apps/%.c.o $(EFI_OBJS) $(GUEST_RT_LIB) linker/efi.lds
	$(Q)echo "  LD      $@"
	$(Q)ld $(GUEST_EFI_LDFLAGS) -T linker/efi.lds \
		-o $@ $(EFI_CRT0) $(EFI_OBJS) $< \
		--start-group $(GUEST_LINK_LIBS) $(EFI_LIBGNUEFI) --end-group
$(GUEST_B)/%.efi: $(GUEST_B)/%.efi.so
	$(Q)echo "  EFI     $@"
	$(Q)objcopy $(GUEST_EFI_OBJCOPY) $< $@

.PRECIOUS: $(GUEST_B)/%.sym.elf $(GUEST_B)/%.efi.so $(GUEST_B)/obj/%.c.o $(GUEST_B)/obj/%.S.o

GUEST_IMAGES := $(foreach app,$(GUEST_APPS),$(GUEST_B)/$(app).elf $(GUEST_B)/$(app).efi)
.PHONY: guest
guest: $(GUEST_IMAGES)
ALL_TARGETS += $(GUEST_IMAGES)

# ---- boot tests ------------------------------------------------------------

SEGTOOL := $(B)/tests/boot/segtool
$(SEGTOOL): tests/boot/segtool.c $(COMMON_SRCS)
	@mkdir -p $(@D)
	$(Q)echo "  CC      $@"
	$(Q)$(CC) $(HOST_CFLAGS) -o $@ $^

# The probe output is compared with `ivshm inspect --json` when the CLI is
# part of the build (host/host.mk); segtool stands in for it otherwise.
TEST_BOOT_DEPS := $(GUEST_IMAGES) $(SEGTOOL) $(filter $(B)/bin/ivshm,$(ALL_TARGETS))

.PHONY: test-boot
test-boot: $(TEST_BOOT_DEPS)
	$(Q)tests/harness reset test-boot
	$(Q)tests/harness shell test-boot 1200 tests/boot/boot_tests.py
TEST_TARGETS += test-boot
