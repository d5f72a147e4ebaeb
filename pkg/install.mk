# SPDX-License-Identifier: BSD-3-Clause
# pkg/install.mk — `make install` and `make uninstall` (GNU conventions), and
# the files made for the install: ivshm.pc, ivshm-guest-build, the guest SDK's
# boot objects. Included by the top Makefile after the other fragments.
#
#   make install   [PREFIX=/usr/local] [DESTDIR=] [BINDIR=...] [LIBDIR=...]
#                  [INCLUDEDIR=...] [DATADIR=...] [MANDIR=...] [DOCDIR=...]
#                  [PKGCONFIGDIR=...]
#   make uninstall (the same variables): removes exactly what install put there
#
# What is installed comes from what the other makefiles build, never from a
# list kept here:
#   INSTALL_BINS     programs; each fragment appends its own (host/host.mk,
#                    host/fwd/fwd.mk, ...), a tool built only with DPDK only then
#   PUBLIC_HEADERS   (Makefile) scripts/public-headers: include/ivshm/**.h and
#                    guest_rt/guest.h
#   GUEST_IMAGES     every guest app (guest_rt/guest.mk) -> DATADIR/ivshm/guest/
#   MAN_B            pages and generated links (man/man.mk) -> MANDIR
#   docs/*.md        the long-form documentation the pages point to -> DOCDIR
#
# install writes a manifest, DATADIR/ivshm/install-manifest, of every file it
# installed and every directory it created; uninstall reads it back (so it
# removes what was installed even if the tree changed since) and removes the
# directories it created once they are empty (pkg/install-files).

PREFIX ?= /usr/local
EXEC_PREFIX ?= $(PREFIX)
BINDIR ?= $(EXEC_PREFIX)/bin
LIBDIR ?= $(EXEC_PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATAROOTDIR ?= $(PREFIX)/share
DATADIR ?= $(DATAROOTDIR)
MANDIR ?= $(DATAROOTDIR)/man
DOCDIR ?= $(DATAROOTDIR)/doc/ivshm
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# The guest SDK: runtime, newlib, boot objects, link scripts (target code,
# hence under LIBDIR).
GUEST_SDKDIR ?= $(LIBDIR)/ivshm/guest
INSTALL_MANIFEST = $(DATADIR)/ivshm/install-manifest
INSTALL_DIR_VARS := PREFIX BINDIR LIBDIR INCLUDEDIR DATADIR MANDIR DOCDIR PKGCONFIGDIR GUEST_SDKDIR

PKG_B := $(B)/pkg
# include/ivshm/X.h -> INCLUDEDIR/ivshm/X.h; guest_rt/guest.h -> INCLUDEDIR/ivshm/guest.h
header_dest = $(INCLUDEDIR)/$(if $(filter include/%,$(1)),$(1:include/%=%),ivshm/$(notdir $(1)))

# The generated files change when a directory or the version does: this file
# is rewritten only then, and they depend on it.
PKG_SETTINGS := VERSION=$(VERSION) $(foreach v,$(INSTALL_DIR_VARS),$(v)=$($(v)))
$(PKG_B)/settings: FORCE
	@mkdir -p $(@D)
	$(Q)echo '$(PKG_SETTINGS)' | cmp -s - $@ 2>/dev/null || echo '$(PKG_SETTINGS)' >$@
.PHONY: FORCE
FORCE:

# ivshm.pc: paths under PREFIX are written with ${prefix}.
pc_path = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
$(PKG_B)/ivshm.pc: pkg/ivshm.pc.in $(PKG_B)/settings
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@PC_LIBDIR@|$(call pc_path,$(LIBDIR))|' \
		-e 's|@PC_INCLUDEDIR@|$(call pc_path,$(INCLUDEDIR))|' -e 's|@VERSION@|$(VERSION)|' \
		-e 's|@PKGCONFIGDIR@|$(PKGCONFIGDIR)|' $< >$@

# ivshm-guest-build: the flags of guest_rt/guest.mk, and where the SDK and the
# headers are relative to BINDIR.
relative_to = $(shell realpath -m --relative-to='$(2)' '$(1)')
$(PKG_B)/ivshm-guest-build: pkg/ivshm-guest-build.in $(PKG_B)/settings guest_rt/guest.mk
	$(Q)sed -e 's|@VERSION@|$(VERSION)|' -e 's|@GUEST_CODEGEN@|$(GUEST_CODEGEN)|' \
		-e 's|@GUEST_ELF_LDFLAGS@|$(GUEST_ELF_LDFLAGS)|' \
		-e 's|@GUEST_EFI_LDFLAGS@|$(GUEST_EFI_LDFLAGS)|' \
		-e 's|@GUEST_EFI_OBJCOPY@|$(GUEST_EFI_OBJCOPY)|' \
		-e 's|@BIN_TO_SDK@|$(call relative_to,$(GUEST_SDKDIR),$(BINDIR))|' \
		-e 's|@BIN_TO_INCLUDE@|$(call relative_to,$(INCLUDEDIR),$(BINDIR))|' $< >$@.tmp
	$(Q)chmod 755 $@.tmp && mv $@.tmp $@

# The boot paths, each as one relocatable object.
$(PKG_B)/sdk/multiboot.o: $(MULTIBOOT_OBJS)
	@mkdir -p $(@D)
	$(Q)ld -r -o $@ $^
$(PKG_B)/sdk/efi_main.o: $(EFI_OBJS)
	@mkdir -p $(@D)
	$(Q)ld -r -o $@ $^

NEWLIB_LIBM := $(NEWLIB_PREFIX)/x86_64-elf/lib/libm.a
PKG_FILES := $(PKG_B)/ivshm.pc $(PKG_B)/ivshm-guest-build $(PKG_B)/sdk/multiboot.o \
	$(PKG_B)/sdk/efi_main.o
ALL_TARGETS += $(PKG_FILES)
INSTALL_BINS += $(PKG_B)/ivshm-guest-build

# The shared library as host/host.mk builds it: the real file
# libivshm.so.VERSION, a link named after its soname (libivshm.so.MAJOR), and
# libivshm.so for -livshm.
# One word per entry (pkg/install-files reads them with '|' as spaces):
#   file|MODE|SRC|DEST   link|TARGET|DEST   tree|MODE|SRCDIR|DEST
INSTALL_SPEC = \
	$(foreach f,$(INSTALL_BINS),file|0755|$(f)|$(BINDIR)/$(notdir $(f))) \
	file|0644|$(LIBIVSHM_A)|$(LIBDIR)/libivshm.a \
	file|0755|$(LIBIVSHM_SO_REAL)|$(LIBDIR)/$(notdir $(LIBIVSHM_SO_REAL)) \
	link|$(notdir $(LIBIVSHM_SO_REAL))|$(LIBDIR)/$(LIBIVSHM_SONAME) \
	link|$(LIBIVSHM_SONAME)|$(LIBDIR)/libivshm.so \
	file|0644|$(PKG_B)/ivshm.pc|$(PKGCONFIGDIR)/ivshm.pc \
	$(foreach h,$(PUBLIC_HEADERS),file|0644|$(h)|$(call header_dest,$(h))) \
	tree|0644|$(MAN_B)|$(MANDIR) \
	file|0644|$(GUEST_RT_LIB)|$(GUEST_SDKDIR)/libguest_rt.a \
	file|0644|$(NEWLIB_LIBC)|$(GUEST_SDKDIR)/libc.a \
	file|0644|$(NEWLIB_LIBM)|$(GUEST_SDKDIR)/libm.a \
	tree|0644|$(NEWLIB_INC)|$(GUEST_SDKDIR)/include \
	file|0644|$(PKG_B)/sdk/multiboot.o|$(GUEST_SDKDIR)/multiboot.o \
	file|0644|$(PKG_B)/sdk/efi_main.o|$(GUEST_SDKDIR)/efi_main.o \
	file|0644|linker/multiboot.ld|$(GUEST_SDKDIR)/multiboot.ld \
	file|0644|linker/efi.lds|$(GUEST_SDKDIR)/efi.lds \
	file|0644|$(EFI_CRT0)|$(GUEST_SDKDIR)/crt0-efi-x86_64.o \
	file|0644|$(EFI_LIBGNUEFI)|$(GUEST_SDKDIR)/libgnuefi.a \
	$(foreach i,$(GUEST_IMAGES),file|0644|$(i)|$(DATADIR)/ivshm/guest/$(notdir $(i))) \
	file|0644|guest_rt/gdb/guest.gdb|$(DATADIR)/ivshm/guest.gdb \
	$(foreach d,$(wildcard docs/*.md),file|0644|$(d)|$(DOCDIR)/$(notdir $(d)))

# Every directory variable must be absolute (DESTDIR is put in front of it).
INSTALL_BAD_DIRS = $(strip $(foreach v,$(INSTALL_DIR_VARS),$(if $(filter /%,$($(v))),,$(v)=$($(v)))))

# ldconfig only for a real install as root: a new library in LIBDIR is not
# found at run time before the cache knows it.
INSTALL_LDCONFIG = if [ -z '$(DESTDIR)' ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; \
	then ldconfig; fi

.PHONY: install uninstall
install: all
	$(Q)$(if $(INSTALL_BAD_DIRS),echo "install: $(firstword $(INSTALL_BAD_DIRS)): not an absolute path" >&2; exit 2)
	$(Q)echo "  INSTALL $(DESTDIR)$(PREFIX)"
	$(Q)printf '%s\n' $(patsubst %,'%',$(INSTALL_SPEC)) | tr '|' ' ' | \
		DESTDIR='$(DESTDIR)' pkg/install-files install '$(INSTALL_MANIFEST)'
	$(Q)$(INSTALL_LDCONFIG)

uninstall:
	$(Q)$(if $(INSTALL_BAD_DIRS),echo "uninstall: $(firstword $(INSTALL_BAD_DIRS)): not an absolute path" >&2; exit 2)
	$(Q)echo "  UNINSTALL $(DESTDIR)$(PREFIX)"
	$(Q)DESTDIR='$(DESTDIR)' pkg/install-files uninstall '$(INSTALL_MANIFEST)'
	$(Q)$(INSTALL_LDCONFIG)
